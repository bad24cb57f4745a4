#include "asr/spec_augment.h"

namespace asr {

torch::Tensor spec_augment_mask(const SpecAugmentOptions& o, const torch::Tensor& lengths, int64_t t, int64_t f) {
  const int64_t b = lengths.size(0);
  const int64_t nf = o.freq_masks, nt = o.time_masks;
  auto r = torch::rand({b, 2 * (nf + nt)}, torch::kDouble);
  auto mask = torch::zeros({b, t, f}, torch::kBool);
  if (nf > 0) {
    auto width = (r.narrow(1, 0, nf) * (std::min<int64_t>(o.freq_width, f) + 1)).floor();
    auto start = (r.narrow(1, nf, nf) * (f - width + 1)).floor();
    auto bins = torch::arange(f, torch::kDouble).view({1, 1, f});
    auto band = (bins >= start.unsqueeze(-1)).logical_and(bins < (start + width).unsqueeze(-1)).any(1);  // (B, F)
    mask.logical_or_(band.unsqueeze(1));
  }
  if (nt > 0) {
    auto len = lengths.to(torch::kCPU, torch::kDouble).clamp_max(static_cast<double>(t)).unsqueeze(1);  // (B, 1)
    auto width = (r.narrow(1, 2 * nf, nt) * ((len * o.time_width_fraction).floor() + 1)).floor();
    auto start = (r.narrow(1, 2 * nf + nt, nt) * (len - width + 1).clamp_min(0)).floor();
    auto frames = torch::arange(t, torch::kDouble).view({1, 1, t});
    auto span = (frames >= start.unsqueeze(-1)).logical_and(frames < (start + width).unsqueeze(-1)).any(1);  // (B, T)
    mask.logical_or_(span.unsqueeze(-1));
  }
  return mask;
}

}  // namespace asr
