// The multi-tensor AdamW step and gradient clip against torch::optim::AdamW::step and
// torch::nn::utils::clip_grad_norm_ on the same weights and gradients: bitwise on CPU; on CUDA (run by
// scripts/gpu-check.sh) within a tolerance, as the multi-tensor kernels round differently there.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>
#include <string>
#include <vector>

#include "asr/errors.h"
#include "asr/multi_tensor_adamw.h"
#include "test_model_helpers.h"

namespace asr {
namespace {

constexpr double kNoClip = std::numeric_limits<double>::infinity();

// The tiny Conformer's parameters, cloned onto `device` as fresh leaves: matrices in a group with weight
// decay, vectors (biases, norms) in one without, as trainers usually split them.
struct Side {
  std::vector<torch::Tensor> params;
  std::unique_ptr<torch::optim::AdamW> optimizer;

  explicit Side(const std::string& device) {
    torch::manual_seed(11);
    ConformerCTC model(test::tiny_model());
    std::vector<torch::Tensor> decayed, plain;
    for (const auto& p : model->parameters()) {
      auto copy = p.detach().clone().to(device).requires_grad_(true);
      params.push_back(copy);
      (copy.dim() >= 2 ? decayed : plain).push_back(copy);
    }
    std::vector<torch::optim::OptimizerParamGroup> groups;
    auto options = [](double weight_decay) {
      auto o = std::make_unique<torch::optim::AdamWOptions>(1e-3);
      o->betas({0.9, 0.98}).eps(1e-9).weight_decay(weight_decay);
      return o;
    };
    groups.emplace_back(decayed, options(1e-2));
    groups.emplace_back(plain, options(0.0));
    optimizer = std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(1e-3));
  }

  torch::optim::AdamWParamState& state(size_t i) {
    auto& states = optimizer->state();
    return static_cast<torch::optim::AdamWParamState&>(
        *states.at(optimizer_state_key<std::decay_t<decltype(states)>>(params[i])));
  }
};

// Step k's gradients, the same for both runs: random, large enough every third step for a clip at 1 to
// bite, and none for parameter 1 on odd steps (so step counts differ between parameters).
void set_gradients(Side& run, int k) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(100 + k);
  const double scale = k % 3 == 0 ? 10.0 : 1e-3;
  for (size_t i = 0; i < run.params.size(); ++i) {
    auto& p = run.params[i];
    if (i == 1 && k % 2 == 1) {
      p.mutable_grad() = torch::Tensor();
      continue;
    }
    p.mutable_grad() = (at::randn(p.sizes(), gen) * scale).to(p.device());
  }
}

void set_lr(Side& run, double lr) {
  for (auto& group : run.optimizer->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
}

void expect_same(const torch::Tensor& want, const torch::Tensor& got, bool bitwise, const std::string& what) {
  const auto a = want.detach().cpu(), b = got.detach().cpu();
  if (bitwise) {
    EXPECT_TRUE(torch::equal(a, b)) << what << ": max |difference| " << (a - b).abs().max().item<double>();
  } else {
    EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-7))
        << what << ": max |difference| " << (a - b).abs().max().item<double>();
  }
}

class MultiTensorAdamW : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "cuda" && !torch::cuda::is_available()) {
      GTEST_SKIP() << "no CUDA device (LibTorch " << TORCH_VERSION << ")";
    }
  }
  bool bitwise() const { return GetParam() == "cpu"; }
};

TEST_P(MultiTensorAdamW, StepsAndClipsAsAdamWAndClipGradNormDo) {
  Side reference(GetParam()), multi(GetParam());
  for (int k = 0; k < 8; ++k) {
    const double max_norm = k % 2 == 0 ? 1.0 : kNoClip;  // clipping on (bites every third step) and off
    set_gradients(reference, k);
    set_gradients(multi, k);
    set_lr(reference, 1e-3 * (k + 1));  // the trainer's schedule moves lr every update
    set_lr(multi, 1e-3 * (k + 1));
    const double want_norm = torch::nn::utils::clip_grad_norm_(reference.params, max_norm);
    const double got_norm = clip_grad_norm(multi.params, max_norm).item<double>();
    if (bitwise()) {
      EXPECT_EQ(want_norm, got_norm) << "step " << k;
    } else {
      EXPECT_NEAR(want_norm, got_norm, 1e-5 * want_norm) << "step " << k;
    }
    reference.optimizer->step();
    multi_tensor_adamw_step(*multi.optimizer);
  }
  for (size_t i = 0; i < reference.params.size(); ++i) {
    const auto at = "parameter " + std::to_string(i);
    expect_same(reference.params[i], multi.params[i], bitwise(), at);
    EXPECT_EQ(reference.state(i).step(), multi.state(i).step()) << at;
    expect_same(reference.state(i).exp_avg(), multi.state(i).exp_avg(), bitwise(), at + " exp_avg");
    expect_same(reference.state(i).exp_avg_sq(), multi.state(i).exp_avg_sq(), bitwise(), at + " exp_avg_sq");
  }
  EXPECT_EQ(multi.state(0).step(), 8);
  EXPECT_EQ(multi.state(1).step(), 4);
}

TEST_P(MultiTensorAdamW, ContinuesTheStateThatAdamWStepMade) {
  // A checkpoint of a run stepped by AdamW::step resumes under the multi-tensor step.
  Side reference(GetParam()), multi(GetParam());
  for (int k = 0; k < 6; ++k) {
    set_gradients(reference, k);
    set_gradients(multi, k);
    reference.optimizer->step();
    if (k < 3) {
      multi.optimizer->step();
    } else {
      multi_tensor_adamw_step(*multi.optimizer);
    }
  }
  for (size_t i = 0; i < reference.params.size(); ++i) {
    expect_same(reference.params[i], multi.params[i], bitwise(), "parameter " + std::to_string(i));
    expect_same(reference.state(i).exp_avg_sq(), multi.state(i).exp_avg_sq(), bitwise(),
                "exp_avg_sq " + std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, MultiTensorAdamW, ::testing::Values("cpu", "cuda"),
                         [](const auto& info) { return info.param; });

TEST(MultiTensorAdamWLimits, NormIsZeroWithoutGradients) {
  auto p = torch::ones({3}, torch::requires_grad());
  EXPECT_EQ(clip_grad_norm({p}, 1.0).item<double>(), 0.0);
}

TEST(MultiTensorAdamWLimits, RefusesAmsgrad) {
  auto p = torch::ones({3}, torch::requires_grad());
  p.mutable_grad() = torch::ones({3});
  torch::optim::AdamW optimizer({p}, torch::optim::AdamWOptions(1e-3).amsgrad(true));
  EXPECT_THROW(multi_tensor_adamw_step(optimizer), Error);
}

}  // namespace
}  // namespace asr
