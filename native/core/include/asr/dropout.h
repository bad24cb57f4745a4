#pragma once
// Inverted dropout whose CPU mask is a hash of (seed, element index) rather than one mt19937 draw per
// element: LibTorch 1.13's CPU bernoulli_ draws serially and cost ~10% of an xs training step. The seed is
// drawn once per call from the default CPU generator, so a checkpoint's saved generator state still replays
// every mask; the mask does not depend on the thread count. Tensors on other devices use torch::dropout.
#include <torch/torch.h>

#include <cstdint>
#include <ostream>

namespace asr {

// out = input * keep / (1 - p), keep drawn with probability 1 - p per element; identity when !training or
// p == 0. p outside [0, 1] throws E_INVALID_ARGUMENT. The backward pass regenerates the mask from the seed.
torch::Tensor hashed_dropout(const torch::Tensor& input, double p, bool training);

// hashed_dropout as a module, for the places torch::nn::Dropout stood (it has no parameters or buffers, so
// the state_dict is unchanged).
class HashedDropoutImpl : public torch::nn::Cloneable<HashedDropoutImpl> {
 public:
  explicit HashedDropoutImpl(double p) : p_(p) {}
  void reset() override {}
  torch::Tensor forward(const torch::Tensor& input) { return hashed_dropout(input, p_, is_training()); }
  void pretty_print(std::ostream& stream) const override { stream << "asr::HashedDropout(p=" << p_ << ")"; }

 private:
  double p_;
};
TORCH_MODULE(HashedDropout);

}  // namespace asr
