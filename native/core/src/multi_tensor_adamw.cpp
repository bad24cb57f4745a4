// The multi-tensor AdamW step and gradient-norm clip (see asr/multi_tensor_adamw.h).
#include "asr/multi_tensor_adamw.h"

#include <cmath>

#include "asr/errors.h"

// LibTorch 2.1 brought `_fused_adamw_` for CUDA and `_foreach_mul_` by a 0-dim tensor; before, the clip
// scales gradient by gradient and the step is the `_foreach_` sequence on every device.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define ASR_TORCH_2_1 1
#endif

namespace asr {

namespace {

using torch::optim::AdamWOptions;
using torch::optim::AdamWParamState;

// A group's parameters that have a gradient, side by side with their gradients and moments.
struct GroupTensors {
  std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
  std::vector<AdamWParamState*> states;
};

// A parameter's first update makes its state as AdamW::step does: step 0, zero moments.
GroupTensors gather(torch::optim::AdamW& optimizer, torch::optim::OptimizerParamGroup& group) {
  auto& states = optimizer.state();
  GroupTensors t;
  for (const auto& p : group.params()) {
    if (!p.grad().defined()) continue;
    if (p.grad().is_sparse()) throw Error(codes::kInvalidArgument, "AdamW does not take sparse gradients");
    auto& entry = states[optimizer_state_key<std::decay_t<decltype(states)>>(p)];
    if (!entry) {
      auto fresh = std::make_unique<AdamWParamState>();
      fresh->step(0);
      fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      entry = std::move(fresh);
    }
    auto* state = static_cast<AdamWParamState*>(entry.get());
    t.params.push_back(p);
    t.grads.push_back(p.grad());
    t.exp_avgs.push_back(state->exp_avg());
    t.exp_avg_sqs.push_back(state->exp_avg_sq());
    t.states.push_back(state);
  }
  return t;
}

// A run of parameters on the CPU: 64 Ki elements (256 KiB per state tensor) or one parameter.
constexpr int64_t kCpuRunElements = 1 << 16;

// Where the run that starts at `begin` ends: off the CPU, at the end of the list.
size_t run_end(const std::vector<torch::Tensor>& params, size_t begin) {
  if (!params[begin].is_cpu()) return params.size();
  size_t end = begin + 1;
  for (int64_t n = params[begin].numel(); end < params.size() && n + params[end].numel() <= kCpuRunElements; ++end) {
    n += params[end].numel();
  }
  return end;
}

// AdamW::step's sequence and scalars (decoupled decay, the moments, the bias-corrected update) as
// `_foreach_` ops. On CPU those run tensor by tensor, each op sweeping its whole list: over all of a
// model's parameters that streams the state through memory once per op, measured 2-4x slower than
// AdamW::step (xs, s); so there the lists are runs of parameters that stay in cache together.
void adamw_foreach(const GroupTensors& t, const AdamWOptions& o) {
  const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
  // Per parameter, as step counts may differ (a parameter that went without a gradient for a while).
  std::vector<at::Scalar> bias_correction2_roots, step_sizes;
  for (const auto* s : t.states) {
    const double bias_correction1 = 1 - std::pow(beta1, s->step());
    const double bias_correction2 = 1 - std::pow(beta2, s->step());
    bias_correction2_roots.emplace_back(std::sqrt(bias_correction2));
    step_sizes.emplace_back(-(o.lr() / bias_correction1));
  }
  for (size_t begin = 0; begin < t.params.size();) {
    const size_t end = run_end(t.params, begin);
    const size_t count = end - begin;
    const at::TensorList params(t.params.data() + begin, count), grads(t.grads.data() + begin, count),
        exp_avgs(t.exp_avgs.data() + begin, count), exp_avg_sqs(t.exp_avg_sqs.data() + begin, count);
    if (o.weight_decay() != 0) at::_foreach_mul_(params, 1 - o.lr() * o.weight_decay());
    at::_foreach_mul_(exp_avgs, beta1);
    at::_foreach_add_(exp_avgs, grads, 1 - beta1);
    at::_foreach_mul_(exp_avg_sqs, beta2);
    at::_foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2);
    auto denominators = at::_foreach_sqrt(exp_avg_sqs);
    at::_foreach_div_(denominators, at::ArrayRef<at::Scalar>(bias_correction2_roots.data() + begin, count));
    at::_foreach_add_(denominators, o.eps());
    at::_foreach_addcdiv_(params, exp_avgs, denominators, at::ArrayRef<at::Scalar>(step_sizes.data() + begin, count));
    begin = end;
  }
}

#ifdef ASR_TORCH_2_1
// One kernel for the group. It reads each parameter's (already advanced) step from a device tensor:
// one host-to-device copy of them all rather than a fill kernel per parameter.
void fused_adamw(const GroupTensors& t, const AdamWOptions& o) {
  std::vector<float> counts;
  for (const auto* s : t.states) counts.push_back(static_cast<float>(s->step()));
  const auto steps = torch::tensor(counts, torch::kFloat).to(t.params.front().device());
  std::vector<torch::Tensor> state_steps;
  for (int64_t i = 0; i < steps.size(0); ++i) state_steps.push_back(steps[i]);
  at::_fused_adamw_(t.params, t.grads, t.exp_avgs, t.exp_avg_sqs, /*max_exp_avg_sqs=*/{}, state_steps, o.lr(),
                    std::get<0>(o.betas()), std::get<1>(o.betas()), o.weight_decay(), o.eps(), /*amsgrad=*/false,
                    /*maximize=*/false);
}
#endif

}  // namespace

void multi_tensor_adamw_step(torch::optim::AdamW& optimizer) {
  torch::NoGradGuard no_grad;
  for (auto& group : optimizer.param_groups()) {
    const auto& o = static_cast<const AdamWOptions&>(group.options());
    if (o.amsgrad()) throw Error(codes::kInvalidArgument, "the multi-tensor AdamW step has no amsgrad variant");
    auto t = gather(optimizer, group);
    if (t.params.empty()) continue;
    for (auto* s : t.states) s->step(s->step() + 1);
#ifdef ASR_TORCH_2_1
    if (t.params.front().is_cuda()) {
      fused_adamw(t, o);
      continue;
    }
#endif
    adamw_foreach(t, o);
  }
}

torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return torch::zeros({});
  const auto norms = at::_foreach_norm(grads, 2);
  // clip_grad_norm_'s arithmetic, kept on the device: the coefficient is a 0-dim tensor, never read back.
  auto total = norms.size() == 1 ? norms.front() : torch::stack(norms).norm(2);
  const auto coefficient = torch::clamp_max(max_norm / (total + 1e-6), 1.0);
#ifdef ASR_TORCH_2_1
  at::_foreach_mul_(grads, coefficient);
#else
  for (auto& g : grads) g.mul_(coefficient);
#endif
  return total;
}

}  // namespace asr
