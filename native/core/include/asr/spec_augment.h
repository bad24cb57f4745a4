#pragma once
// SpecAugment (Park et al. 2019): frequency bands and time spans of the features masked during training.
#include <torch/torch.h>

#include <cstdint>

namespace asr {

// Masks drawn from the torch CPU generator (so a checkpoint's saved state replays them), per utterance:
// `freq_masks` bands of width U{0..freq_width} mel bins, `time_masks` spans of width
// U{0..time_width_fraction * length} frames inside the valid part. Masked values become 0 (the mean of
// normalised features).
struct SpecAugmentOptions {
  bool enabled = true;
  int freq_masks = 2;
  int freq_width = 27;
  int time_masks = 2;
  double time_width_fraction = 0.05;
};

// SpecAugment's mask (B, frames, bins) bool on the CPU, true where a value is masked, drawn from the
// default CPU generator; time spans stay inside each row's length.
torch::Tensor spec_augment_mask(const SpecAugmentOptions& options, const torch::Tensor& lengths, int64_t frames,
                                int64_t bins);

}  // namespace asr
