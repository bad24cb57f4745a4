#pragma once
// AdamW and the global gradient-norm clip as a handful of multi-tensor ops over all parameters, instead
// of torch::optim::AdamW::step's ~7 kernels per parameter and clip_grad_norm_'s 2 per gradient: on a GPU
// the update of a Conformer (hundreds of small tensors) is bound by kernel launches (issue 16). The state
// stays torch::optim::AdamW's own (an AdamWParamState per parameter: step, exp_avg, exp_avg_sq), so the
// checkpoint and the world broadcast read and write it as before, and a run may switch between the two.
#include <torch/torch.h>
#include <torch/version.h>

#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace asr {

// One AdamW update of every parameter that has a gradient, group by group, with each group's lr, betas,
// eps and weight_decay; what optimizer.step() does. On CPU the results are bitwise those of step(): the
// same ops on the same scalars, grouped by op instead of by parameter (LibTorch runs `_foreach_` ops
// there one tensor at a time). On CUDA the `_foreach_` kernels (LibTorch >= 2.1: `_fused_adamw_`) round
// differently, within a few ulp. amsgrad is not supported (E_INVALID_ARGUMENT).
void multi_tensor_adamw_step(torch::optim::AdamW& optimizer);

// Scales every defined gradient by min(1, max_norm / (norm + 1e-6)), norm being the global L2 norm of
// them all, as torch::nn::utils::clip_grad_norm_ does (bitwise on CPU). Returns the norm as a 0-dim tensor
// on the gradients' device without reading it back (0 when no parameter has a gradient); a non-finite
// norm makes the gradients non-finite, as clip_grad_norm_ does. max_norm = infinity: no clipping.
torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

// The optimizer keeps each parameter's state under a key made from its TensorImpl: LibTorch 1.x uses
// the address printed as a string, later releases may key by the pointer itself; the map's key type says.
template <typename StateMap>
typename StateMap::key_type optimizer_state_key(const torch::Tensor& param) {
  using Key = typename StateMap::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << param.unsafeGetTensorImpl();
    return key.str();
  } else {
    return static_cast<Key>(param.unsafeGetTensorImpl());
  }
}

}  // namespace asr
