#include "asr/ema.h"

#include <algorithm>
#include <cmath>

#include "asr/errors.h"

namespace asr {

const char* weights_name(Weights weights) { return weights == Weights::kEma ? "ema" : "raw"; }

void validate_ema_decay(double decay) {
  if (!(decay >= 0 && decay < 1)) {
    throw Error(codes::kInvalidArgument, "invalid training config: ema_decay must be >= 0 and < 1 (0 turns the " +
                                             std::string("moving average off; 0.999 is usual), got ") +
                                             std::to_string(decay));
  }
}

ModelEma::ModelEma(double decay) : decay_(decay) { validate_ema_decay(decay); }

void ModelEma::reset(const std::vector<torch::Tensor>& params) {
  shadow_.clear();
  updates_ = 0;
  if (decay_ == 0) return;
  torch::NoGradGuard no_grad;
  for (const auto& p : params) shadow_.push_back(p.detach().to(torch::kFloat, /*non_blocking=*/false, /*copy=*/true));
}

void ModelEma::update(const std::vector<torch::Tensor>& params) {
  if (decay_ == 0) {
    shadow_.clear();
    return;
  }
  if (shadow_.empty()) reset(params);
  const auto n = static_cast<double>(updates_);
  const double d = std::min(decay_, (1 + n) / (10 + n));
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> weights;
  weights.reserve(params.size());
  for (const auto& p : params) weights.push_back(p.detach());
  // shadow += (1 - d) * (param - shadow), over all tensors at once.
  at::_foreach_mul_(shadow_, d);
  at::_foreach_add_(shadow_, weights, 1 - d);
  updates_ += 1;
}

void ModelEma::load(const std::vector<torch::Tensor>& shadow, int64_t updates, torch::Device device) {
  shadow_.clear();
  for (const auto& t : shadow) shadow_.push_back(t.to(device, torch::kFloat, /*non_blocking=*/false, /*copy=*/true));
  updates_ = updates;
}

void ModelEma::with_weights(const std::vector<torch::Tensor>& params, const std::function<void()>& work) const {
  if (shadow_.empty()) {
    throw Error(codes::kInvalidArgument,
                "no EMA weights: set training.ema_decay > 0, or load a checkpoint saved with ema_decay > 0");
  }
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> trained;
  trained.reserve(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    trained.push_back(params[i].detach().clone());
    params[i].detach().copy_(shadow_[i]);
  }
  // Restores the trained weights whichever way `work` ends.
  struct Restore {
    const std::vector<torch::Tensor>& params;
    const std::vector<torch::Tensor>& trained;
    ~Restore() {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) params[i].detach().copy_(trained[i]);
    }
  } restore{params, trained};
  work();
}

}  // namespace asr
