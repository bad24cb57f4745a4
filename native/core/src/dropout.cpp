#include "asr/dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "asr/errors.h"

namespace asr {

namespace {

// One hash gives the keep decisions of two neighbouring elements (its low and high 32 bits).
constexpr int64_t kPairsPerTask = 16384;

// splitmix64 (Steele, Lea and Flood 2014): the Weyl step and finaliser, here as a counter-based generator —
// pair j of a call hashes seed + (j + 1) * golden, so any thread can compute any pair's bits.
inline uint64_t pair_bits(uint64_t seed, uint64_t pair) {
  uint64_t z = seed + (pair + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Elements whose 32 hash bits are >= threshold are kept: probability 1 - threshold / 2^32.
uint32_t keep_threshold(double p) {
  return static_cast<uint32_t>(std::min(p * 4294967296.0, 4294967295.0));
}

// The one mask-and-scale pass of forward (on the input) and backward (on the output's gradient).
torch::Tensor masked_scale(const torch::Tensor& input, uint64_t seed, double p) {
  RECORD_FUNCTION("asr::hashed_dropout", std::vector<c10::IValue>({input}));
  const auto in = input.contiguous();
  auto out = torch::empty_like(in, at::MemoryFormat::Contiguous);
  const int64_t n = in.numel();
  const uint32_t threshold = keep_threshold(p);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, in.scalar_type(), "hashed_dropout", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const acc_t scale = static_cast<acc_t>(1.0 / (1.0 - p));
    const scalar_t* src = in.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    auto apply = [&](int64_t i, uint32_t bits) {
      const acc_t factor = bits >= threshold ? scale : acc_t(0);
      dst[i] = static_cast<scalar_t>(static_cast<acc_t>(src[i]) * factor);
    };
    const int64_t pairs = n / 2;
    at::parallel_for(0, pairs, kPairsPerTask, [&](int64_t begin, int64_t end) {
      for (int64_t j = begin; j < end; ++j) {
        const uint64_t bits = pair_bits(seed, static_cast<uint64_t>(j));
        apply(2 * j, static_cast<uint32_t>(bits));
        apply(2 * j + 1, static_cast<uint32_t>(bits >> 32));
      }
    });
    if (n % 2 != 0) apply(n - 1, static_cast<uint32_t>(pair_bits(seed, static_cast<uint64_t>(pairs))));
  });
  return out;
}

uint64_t draw_seed() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
}

class HashedDropoutFunction : public torch::autograd::Function<HashedDropoutFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input, double p) {
    const uint64_t seed = draw_seed();
    ctx->saved_data["seed"] = static_cast<int64_t>(seed);
    ctx->saved_data["p"] = p;
    return masked_scale(input, seed, p);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
    const double p = ctx->saved_data["p"].toDouble();
    if (!grad_outputs[0].defined()) return {torch::Tensor(), torch::Tensor()};
    return {masked_scale(grad_outputs[0], seed, p), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor hashed_dropout(const torch::Tensor& input, double p, bool training) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw Error(codes::kInvalidArgument, "dropout probability must be in [0, 1], got " + std::to_string(p));
  }
  if (!training || p == 0.0) return input;
  if (!input.device().is_cpu()) return torch::dropout(input, p, training);
  if (p == 1.0) return input * 0;
  return HashedDropoutFunction::apply(input, p);
}

}  // namespace asr
