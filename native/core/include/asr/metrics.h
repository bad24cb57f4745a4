#pragma once
// Greedy CTC decoding, edit distance, character and word error rates.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace asr {

// log_probs (B, T, V) on any device, lengths (B): per row, argmax per frame over the first lengths[b]
// frames, repeats collapsed, blanks (id 0) dropped.
std::vector<std::vector<int64_t>> ctc_greedy_decode(const torch::Tensor& log_probs, const torch::Tensor& lengths);

// Levenshtein distance (unit costs) between two sequences.
int64_t edit_distance(const std::vector<int64_t>& a, const std::vector<int64_t>& b);
int64_t edit_distance(const std::string& a, const std::string& b);                            // characters
int64_t edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b);  // words

std::vector<std::string> split_words(const std::string& text);  // on runs of spaces

struct ErrorCounts {
  int64_t edits = 0;      // substitutions + deletions + insertions
  int64_t reference = 0;  // reference length (characters or words)
  double rate() const { return reference > 0 ? static_cast<double>(edits) / reference : (edits > 0 ? 1.0 : 0.0); }
};
// Corpus-level counts: total edits over total reference length (a fraction: 0.046 is 4.6%).
ErrorCounts character_errors(const std::vector<std::string>& references, const std::vector<std::string>& hypotheses);
ErrorCounts word_errors(const std::vector<std::string>& references, const std::vector<std::string>& hypotheses);

}  // namespace asr
