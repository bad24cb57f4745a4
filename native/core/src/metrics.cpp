#include "asr/metrics.h"

#include <algorithm>

#include "asr/errors.h"
#include "asr/vocab.h"

namespace asr {

std::vector<std::vector<int64_t>> ctc_greedy_decode(const torch::Tensor& log_probs, const torch::Tensor& lengths) {
  if (log_probs.dim() != 3 || lengths.dim() != 1 || lengths.size(0) != log_probs.size(0)) {
    throw Error(codes::kInvalidArgument, "ctc_greedy_decode expects log_probs (B, T, V) and lengths (B), got " +
                                             std::to_string(log_probs.dim()) + "-d and " +
                                             std::to_string(lengths.dim()) + "-d tensors");
  }
  // Argmax on the tensor's own device; only the (B, T) ids cross to the host.
  const auto best = log_probs.argmax(-1).to(torch::kCPU, torch::kLong).contiguous();
  const auto lens = lengths.to(torch::kCPU, torch::kLong).contiguous();
  const auto frames = best.size(1);
  const auto* ids = best.data_ptr<int64_t>();
  const auto* len = lens.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(best.size(0)));
  for (int64_t b = 0; b < best.size(0); ++b) {
    const auto* row = ids + b * frames;
    const auto n = std::clamp<int64_t>(len[b], 0, frames);
    int64_t previous = kBlank;
    for (int64_t t = 0; t < n; ++t) {
      if (row[t] != kBlank && row[t] != previous) out[b].push_back(row[t]);
      previous = row[t];
    }
  }
  return out;
}

namespace {

template <typename Seq>
int64_t levenshtein(const Seq& a, const Seq& b) {
  // One row of the dynamic programme, O(|a| * |b|) time, O(|b|) memory.
  std::vector<int64_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int64_t>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int64_t diagonal = row[0];
    row[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int64_t above = row[j];
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

void check_pairs(const std::vector<std::string>& refs, const std::vector<std::string>& hyps) {
  if (refs.size() != hyps.size()) {
    throw Error(codes::kInvalidArgument, "error rate needs as many hypotheses as references, got " +
                                             std::to_string(hyps.size()) + " and " + std::to_string(refs.size()));
  }
}

}  // namespace

int64_t edit_distance(const std::vector<int64_t>& a, const std::vector<int64_t>& b) { return levenshtein(a, b); }
int64_t edit_distance(const std::string& a, const std::string& b) { return levenshtein(a, b); }
int64_t edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return levenshtein(a, b);
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

ErrorCounts character_errors(const std::vector<std::string>& refs, const std::vector<std::string>& hyps) {
  check_pairs(refs, hyps);
  ErrorCounts counts;
  for (size_t i = 0; i < refs.size(); ++i) {
    counts.edits += edit_distance(refs[i], hyps[i]);
    counts.reference += static_cast<int64_t>(refs[i].size());
  }
  return counts;
}

ErrorCounts word_errors(const std::vector<std::string>& refs, const std::vector<std::string>& hyps) {
  check_pairs(refs, hyps);
  ErrorCounts counts;
  for (size_t i = 0; i < refs.size(); ++i) {
    const auto ref = split_words(refs[i]);
    counts.edits += edit_distance(ref, split_words(hyps[i]));
    counts.reference += static_cast<int64_t>(ref.size());
  }
  return counts;
}

}  // namespace asr
