#pragma once
// CTC prefix beam search over the model's per-frame log-probabilities, without a language model.
// Unlike greedy decoding (metrics.h), which follows the single most likely frame path, it ranks output
// prefixes by the summed probability of every frame path that collapses to them, so a transcript spread
// over many alignments can beat the best single alignment.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "asr/batch.h"

namespace asr {

class Trainer;

inline constexpr int64_t kMaxBeamWidth = 256;

// One utterance: log_probs (T, V) log-softmax output (any device, any float dtype), blank = kBlank.
// Keeps the `beam_width` (1..kMaxBeamWidth) most probable prefixes after every frame and returns the best
// one's token ids. Ties are broken towards the prefix created first, so the result is deterministic.
// Width 1 keeps one prefix but still scores it by its summed paths: it equals greedy decoding when each
// frame's best token is clearly ahead (as in a trained model's peaked output), not on every input.
// Throws E_INVALID_ARGUMENT for a bad shape or width.
std::vector<int64_t> ctc_prefix_beam_search(const torch::Tensor& log_probs, int64_t beam_width);

// A batch as ctc_greedy_decode takes it: log_probs (B, T, V), lengths (B); row b uses its first
// lengths[b] frames.
std::vector<std::vector<int64_t>> ctc_beam_decode(const torch::Tensor& log_probs, const torch::Tensor& lengths,
                                                  int64_t beam_width);

// Trainer::transcribe with beam search in place of greedy decoding: eval mode, the trainer's device and
// precision, texts in batch order.
std::vector<std::string> transcribe_beam(Trainer& trainer, const Batch& batch, int64_t beam_width);

}  // namespace asr
