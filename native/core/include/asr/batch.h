#pragma once
// The one structure the data side hands to the model side.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace asr {

struct Batch {
  torch::Tensor features;          // (B, T, n_mels) float32, per-utterance normalised, zero padded
  torch::Tensor feature_lengths;   // (B) int64, valid frames of each row
  torch::Tensor targets;           // (B, L) int64 token ids (vocab.h), padded with 0 (blank)
  torch::Tensor target_lengths;    // (B) int64
  std::vector<std::string> ids;    // utterance ids, for logs and transcripts
  std::vector<std::string> texts;  // normalised reference transcripts, for CER/WER
};

// Rows of a batch; 0 for a default (empty) Batch.
inline int64_t batch_rows(const Batch& batch) { return batch.features.defined() ? batch.features.size(0) : 0; }

// Rows [begin, end) of `batch`, padding trimmed to the longest kept row; a default Batch when empty.
Batch slice_rows(const Batch& batch, int64_t begin, int64_t end);

// Frames left after the two stride-2 3x3 convolutions of the subsampling front end.
inline int64_t subsampled_length(int64_t frames) { return ((frames - 1) / 2 - 1) / 2; }

}  // namespace asr
