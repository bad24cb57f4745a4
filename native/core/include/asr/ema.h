#pragma once
// An exponential moving average of a model's parameters (Polyak averaging, as NeMo's EMA and timm's
// ModelEmaV2 keep it): fp32 shadow copies on the parameters' device, moved towards the weights after every
// optimizer update. Buffers (BatchNorm running statistics) are not averaged: whoever uses the averaged
// weights takes the model's own buffers with them.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace asr {

// Which weights a forward pass runs with: the trained ones, or their moving average.
enum class Weights { kRaw, kEma };
const char* weights_name(Weights weights);  // "raw" | "ema"

class ModelEma {
 public:
  // decay in [0, 1); 0 keeps no average (but a loaded one can still be used, see load).
  explicit ModelEma(double decay = 0);

  double decay() const { return decay_; }
  int64_t updates() const { return updates_; }
  bool has_weights() const { return !shadow_.empty(); }
  const std::vector<torch::Tensor>& shadow() const { return shadow_; }

  // Starts the average at the given weights (deep fp32 copies), update count 0. No-op when decay is 0.
  void reset(const std::vector<torch::Tensor>& params);
  // After an optimizer update: shadow = d * shadow + (1 - d) * param with the warm-up
  //   d = min(decay, (1 + n) / (10 + n)),  n = updates so far,
  // so that early in a run (n small) the average follows the fast-moving weights instead of holding on to
  // the random initialisation; from n = (10 * decay - 1) / (1 - decay) on, d is the decay itself. With
  // decay 0 a loaded average is dropped: training moves the weights away from what it describes.
  void update(const std::vector<torch::Tensor>& params);
  // A checkpoint's average (CPU or device tensors, one per parameter, in order) and its update count.
  void load(const std::vector<torch::Tensor>& shadow, int64_t updates, torch::Device device);
  void set_updates(int64_t updates) { updates_ = updates; }

  // Runs `work` with the shadow weights copied into `params`, then copies the trained weights back (also
  // when `work` throws), bit for bit. E_INVALID_ARGUMENT when there is no average.
  void with_weights(const std::vector<torch::Tensor>& params, const std::function<void()>& work) const;

 private:
  double decay_;
  int64_t updates_ = 0;
  std::vector<torch::Tensor> shadow_;
};

// Throws E_INVALID_ARGUMENT naming training.ema_decay unless 0 <= decay < 1.
void validate_ema_decay(double decay);

}  // namespace asr
