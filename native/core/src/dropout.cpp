#include "asr/dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "asr/errors.h"

namespace asr {

namespace {

// Elements are hashed in blocks small enough to stay in L1: one 64-bit hash gives the keep bits of element
// k (its low half) and of element k + kBlock / 2 (its high half) of a block.
constexpr int64_t kBlock = 2048;
constexpr int64_t kBlocksPerTask = 16;

// Wider vector units where the CPU has them: the hash's 64-bit multiplies dominate the pass, and a
// plain x86-64 build has no vector 64-bit multiply (GCC clones on glibc, resolved once at load).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ASR_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ASR_VECTOR_CLONES
#endif

// splitmix64 (Steele, Lea and Flood 2014), its Weyl step and finaliser used as a counter-based generator:
// pair j of a call hashes seed + (j + 1) * golden, so any thread can compute any block's bits.
ASR_VECTOR_CLONES void hash_block(uint64_t seed, uint64_t block, uint32_t* bits) {
  constexpr int64_t half = kBlock / 2;
  const uint64_t first = block * half + 1;
  for (int64_t k = 0; k < half; ++k) {
    uint64_t z = seed + (first + static_cast<uint64_t>(k)) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    bits[k] = static_cast<uint32_t>(z);
    bits[k + half] = static_cast<uint32_t>(z >> 32);
  }
}

// Elements whose 32 hash bits are >= threshold are kept: probability 1 - threshold / 2^32.
uint32_t keep_threshold(double p) { return static_cast<uint32_t>(std::min(p * 4294967296.0, 4294967295.0)); }

// y = x * (bits >= threshold ? scale : 0) over one block, as straight-line loops the compiler vectorises.
ASR_VECTOR_CLONES void mask_block(const uint32_t* bits, uint32_t threshold, float scale, const float* x, float* y,
                                  int64_t len) {
  for (int64_t k = 0; k < len; ++k) y[k] = x[k] * (bits[k] >= threshold ? scale : 0.0f);
}

// bfloat16 through its bits, rounding to nearest even as c10::BFloat16 does (c10's conversion does not
// vectorise).
ASR_VECTOR_CLONES void mask_block(const uint32_t* bits, uint32_t threshold, float scale, const c10::BFloat16* x,
                                  c10::BFloat16* y, int64_t len) {
  const auto* in = reinterpret_cast<const uint16_t*>(x);
  auto* out = reinterpret_cast<uint16_t*>(y);
  for (int64_t k = 0; k < len; ++k) {
    const uint32_t in_bits = static_cast<uint32_t>(in[k]) << 16;
    float value;
    std::memcpy(&value, &in_bits, sizeof value);
    value *= bits[k] >= threshold ? scale : 0.0f;
    uint32_t out_bits;
    std::memcpy(&out_bits, &value, sizeof out_bits);
    const uint32_t rounded = (out_bits + 0x7FFFu + ((out_bits >> 16) & 1u)) >> 16;
    out[k] = static_cast<uint16_t>(value != value ? 0x7FC0u : rounded);
  }
}

// The other dtypes (not on the model's path) convert element by element.
template <typename scalar_t, typename acc_t>
void mask_block(const uint32_t* bits, uint32_t threshold, acc_t scale, const scalar_t* x, scalar_t* y, int64_t len) {
  for (int64_t k = 0; k < len; ++k) {
    y[k] = static_cast<scalar_t>(static_cast<acc_t>(x[k]) * (bits[k] >= threshold ? scale : acc_t(0)));
  }
}

template <typename scalar_t>
void mask_and_scale(const scalar_t* src, scalar_t* dst, int64_t n, uint64_t seed, double p) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t scale = static_cast<acc_t>(1.0 / (1.0 - p));
  const uint32_t threshold = keep_threshold(p);
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  at::parallel_for(0, blocks, kBlocksPerTask, [=](int64_t begin, int64_t end) {
    uint32_t bits[kBlock];
    for (int64_t b = begin; b < end; ++b) {
      hash_block(seed, static_cast<uint64_t>(b), bits);
      const int64_t offset = b * kBlock;
      mask_block(bits, threshold, scale, src + offset, dst + offset, std::min(kBlock, n - offset));
    }
  });
}

// The one mask-and-scale pass of forward (on the input) and backward (on the output's gradient).
torch::Tensor masked_scale(const torch::Tensor& input, uint64_t seed, double p) {
  RECORD_FUNCTION("asr::hashed_dropout", std::vector<c10::IValue>({input}));
  const auto in = input.contiguous();
  auto out = torch::empty_like(in, at::MemoryFormat::Contiguous);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, in.scalar_type(), "hashed_dropout", [&] {
    mask_and_scale(in.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), in.numel(), seed, p);
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
