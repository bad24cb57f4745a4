// asr::linear (linear.h) against at::linear: the same values and gradients for the shapes the model uses,
// and at::linear itself wherever the oneDNN path does not apply.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "asr/linear.h"
#include "asr/precision.h"

namespace asr {
namespace {

struct Grads {
  torch::Tensor y, x, w, b;
};

Grads run(bool ours, const torch::Tensor& x0, const torch::Tensor& w0, const torch::Tensor& b0) {
  auto x = x0.clone().requires_grad_(true);
  auto w = w0.clone().requires_grad_(true);
  auto b = b0.defined() ? b0.clone().requires_grad_(true) : torch::Tensor();
  auto y = ours ? asr::linear(x, w, b) : torch::linear(x, w, b);
  // A weighting that differs per element, so a transposed or misplaced gradient cannot pass.
  (y * torch::linspace(-1, 1, y.numel()).view(y.sizes())).sum().backward();
  return {y.detach(), x.grad(), w.grad(), b.defined() ? b.grad() : torch::Tensor()};
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-4)) << what << ": max difference " << (a - b).abs().max().item<float>();
}

TEST(Linear, WhereLibTorchLoadedLibdnnlTheOneDnnPathIsTaken) {
  // Debian's LibTorch links libdnnl.so.2, so it is loaded here and the lookup must find dnnl_sgemm in it. A
  // LibTorch that links oneDNN statically and hides it (pip's) loads no such library and keeps at::linear; the
  // comparisons below hold either way.
  if (::dlopen("libdnnl.so.2", RTLD_LAZY | RTLD_NOLOAD) == nullptr) {
    GTEST_SKIP() << "this LibTorch did not load libdnnl.so.2: at::linear is the only path";
  }
  if (std::getenv("ASR_TRAINER_SGEMM") != nullptr) GTEST_SKIP() << "ASR_TRAINER_SGEMM chooses the path";
  EXPECT_STREQ(linear_backend(), "onednn");
}

TEST(Linear, ValuesAndGradientsMatchAtLinearForTheModelsShapes) {
  torch::manual_seed(0);
  struct Shape {
    std::vector<int64_t> x;
    int64_t out;
    bool bias;
  };
  const std::vector<Shape> shapes = {
      {{8, 100, 144}, 576, true},  // feed-forward up
      {{8, 100, 576}, 144, true},  // feed-forward down
      {{4, 37, 144}, 432, true},   // attention in-projection
      {{3, 11, 144}, 29, true},    // CTC head
      {{50, 144}, 144, false},     // 2-D, no bias
      {{0, 5, 16}, 8, true},       // an empty batch
  };
  for (const auto& s : shapes) {
    const auto x = torch::randn(s.x);
    const auto w = torch::randn({s.out, s.x.back()}) * 0.1;
    const auto b = s.bias ? torch::randn({s.out}) : torch::Tensor();
    const auto ours = run(true, x, w, b);
    const auto theirs = run(false, x, w, b);
    const std::string name = "x " + std::to_string(s.x.back()) + " -> " + std::to_string(s.out);
    expect_close(ours.y, theirs.y, name + " output");
    expect_close(ours.x, theirs.x, name + " grad x");
    expect_close(ours.w, theirs.w, name + " grad weight");
    if (s.bias) expect_close(ours.b, theirs.b, name + " grad bias");
  }
}

TEST(Linear, OnlyTheInputsThatNeedAGradientGetOne) {
  const auto x = torch::randn({6, 10});
  auto w = torch::randn({4, 10}).requires_grad_(true);
  auto y = asr::linear(x, w, torch::Tensor());
  y.sum().backward();
  EXPECT_FALSE(x.grad().defined());
  EXPECT_TRUE(torch::allclose(w.grad(), x.sum(0).expand({4, 10})));
}

TEST(Linear, TheOutputCanBeModifiedInPlaceLikeAtLinears) {
  // The model does this (relu_, masked_fill_ after a projection); an output that were a view made inside the
  // custom function would make autograd refuse it.
  const auto x = torch::randn({2, 3, 8});
  const auto w0 = torch::randn({4, 8});
  auto ours = w0.clone().requires_grad_(true);
  auto theirs = w0.clone().requires_grad_(true);
  asr::linear(x, ours, torch::Tensor()).relu_().sum().backward();
  torch::linear(x, theirs, torch::Tensor()).relu_().sum().backward();
  expect_close(ours.grad(), theirs.grad(), "after relu_");
}

TEST(Linear, UnderBf16AutocastItIsAtLinearInBf16) {
  const auto x = torch::randn({5, 16});
  const auto w = torch::randn({8, 16});
  AutocastScope autocast(Precision::kBf16, c10::DeviceType::CPU);
  EXPECT_EQ(asr::linear(x, w, torch::Tensor()).scalar_type(), torch::kBFloat16);
}

TEST(Linear, NonContiguousInputsGiveTheSameValues) {
  const auto x = torch::randn({12, 7}).t();  // (7, 12), transposed storage
  const auto w = torch::randn({12, 5}).t();  // (5, 12)
  expect_close(asr::linear(x, w, torch::Tensor()), torch::linear(x, w, torch::Tensor()), "transposed");
}

}  // namespace
}  // namespace asr
