// hashed_dropout: keep rate, scaling, gradient, replay from the generator state, eval identity.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>

#include "asr/dropout.h"
#include "asr/errors.h"

namespace asr {
namespace {

double kept_fraction(const torch::Tensor& out) { return out.ne(0).to(torch::kDouble).mean().item<double>(); }

TEST(HashedDropout, KeepFractionIsOneMinusPWithinSixStandardDeviations) {
  torch::manual_seed(1);
  const int64_t n = 1 << 20;
  for (double p : {0.05, 0.1, 0.3, 0.5, 0.9}) {
    const double fraction = kept_fraction(hashed_dropout(torch::ones({n}), p, true));
    EXPECT_NEAR(fraction, 1.0 - p, 6.0 * std::sqrt(p * (1.0 - p) / static_cast<double>(n))) << "p=" << p;
  }
}

TEST(HashedDropout, KeptValuesAreScaledByOneOverKeepProbabilityAndDroppedAreZero) {
  torch::manual_seed(2);
  const double p = 0.3;
  const auto x = torch::randn({64, 333});  // nonzero almost surely, so out != 0 marks the kept elements
  const auto out = hashed_dropout(x, p, true);
  const auto kept = out.ne(0);
  EXPECT_GT(kept.sum().item<int64_t>(), 0);
  EXPECT_TRUE(torch::allclose(out, x * kept / (1.0 - p), 1e-6, 0));
}

TEST(HashedDropout, GradientIsTheForwardMaskTimesScaleForNonContiguousOddSizedInput) {
  torch::manual_seed(3);
  const double p = 0.2;
  auto x = torch::randn({37, 29}).t().requires_grad_();  // 1073 elements, transposed view
  ASSERT_FALSE(x.is_contiguous());
  const auto out = hashed_dropout(x, p, true);
  const auto kept = out.ne(0);
  EXPECT_TRUE(torch::allclose(out, x.detach() * kept / (1.0 - p), 1e-6, 0));
  const auto grad = torch::randn(out.sizes());
  out.backward(grad);
  EXPECT_TRUE(torch::allclose(x.grad(), grad * kept / (1.0 - p), 1e-6, 0));
}

TEST(HashedDropout, SameGeneratorStateGivesTheSameMaskAndSuccessiveCallsDiffer) {
  const auto x = torch::ones({4096});
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  torch::manual_seed(4);
  const auto state = generator.get_state();
  const auto first = hashed_dropout(x, 0.5, true);
  const auto second = hashed_dropout(x, 0.5, true);
  EXPECT_FALSE(torch::equal(first, second));
  generator.set_state(state);
  EXPECT_TRUE(torch::equal(hashed_dropout(x, 0.5, true), first));
  EXPECT_TRUE(torch::equal(hashed_dropout(x, 0.5, true), second));
}

TEST(HashedDropout, MaskDoesNotDependOnTheThreadCount) {
  const auto x = torch::ones({1 << 18});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  torch::manual_seed(5);
  const auto one = hashed_dropout(x, 0.1, true);
  at::set_num_threads(2);
  torch::manual_seed(5);
  const auto two = hashed_dropout(x, 0.1, true);
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one, two));
}

TEST(HashedDropout, Bfloat16KeepsItsDtypeAndRoundsTheScaledValueOnce) {
  torch::manual_seed(6);
  const double p = 0.1;
  const auto x = torch::randn({8, 1000}).to(torch::kBFloat16);
  const auto out = hashed_dropout(x, p, true);
  EXPECT_EQ(out.scalar_type(), torch::kBFloat16);
  const auto kept = out.ne(0);
  const auto expected = (x.to(torch::kFloat) * kept * (1.0 / (1.0 - p))).to(torch::kBFloat16);
  EXPECT_TRUE(torch::equal(out, expected));
  EXPECT_NEAR(kept_fraction(out), 1.0 - p, 6.0 * std::sqrt(p * (1.0 - p) / 8000.0));
}

TEST(HashedDropout, Bfloat16RoundingMatchesTorchsForNonFiniteAndLargeValues) {
  torch::manual_seed(8);
  const double p = 0.5;
  auto x = torch::full({4096}, 3.0e38f);  // times 2 overflows to inf
  x.slice(0, 0, 1024).fill_(INFINITY);
  x.slice(0, 1024, 2048).fill_(NAN);
  x.slice(0, 2048, 3072).uniform_(-1, 1);
  const auto in = x.to(torch::kBFloat16);
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  const auto state = generator.get_state();
  const auto out = hashed_dropout(in, p, true);
  generator.set_state(state);
  const auto kept = hashed_dropout(torch::ones({4096}), p, true).ne(0);
  const auto expected = (in.to(torch::kFloat) * kept * (1.0 / (1.0 - p))).to(torch::kBFloat16);
  EXPECT_TRUE(torch::equal(out.isnan(), expected.isnan()));
  EXPECT_TRUE(torch::equal(out.nan_to_num(0, 1, -1), expected.nan_to_num(0, 1, -1)));
}

TEST(HashedDropout, EvalModeAndZeroProbabilityAreIdentityAndDrawNothing) {
  const auto x = torch::randn({10, 10});
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  torch::manual_seed(7);
  const auto state = generator.get_state();
  EXPECT_TRUE(hashed_dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(hashed_dropout(x, 0.0, true).is_same(x));
  HashedDropout module(0.5);
  module->eval();
  EXPECT_TRUE(module(x).is_same(x));
  EXPECT_TRUE(torch::equal(generator.get_state(), state));
  module->train();
  EXPECT_FALSE(torch::equal(module(x), x));
}

TEST(HashedDropout, ProbabilityOneGivesZerosAndOutsideZeroOneThrows) {
  const auto x = torch::randn({5});
  EXPECT_TRUE(torch::equal(hashed_dropout(x, 1.0, true), torch::zeros({5})));
  EXPECT_THROW(hashed_dropout(x, -0.1, true), Error);
  EXPECT_THROW(hashed_dropout(x, 1.5, true), Error);
}

}  // namespace
}  // namespace asr
