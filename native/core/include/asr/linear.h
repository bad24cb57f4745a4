#pragma once
// y = x · Wᵀ + b for the model's linear layers (feed-forward, attention projections, the convolution module's
// pointwise convolutions, the CTC head). fp32 on CPU goes through oneDNN's sgemm where the linked LibTorch
// carries oneDNN as a shared library (Debian's does). Measured on the AMD EPYC VM, 2 threads, LibTorch 1.13.1 with
// OpenBLAS: 800×144·144×144 1.56×, 800×576·576×144 1.19×, 800×144·144×432 1.16×, the weight gradients 1.11–1.33×,
// 800×144·144×576 0.94×; one xs training step 3–5% faster (asr_bench_step, alternating runs). Everything else
// (CUDA, bf16 autocast, other dtypes, a LibTorch without a visible oneDNN) is at::linear.
#include <torch/torch.h>

namespace asr {

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

// Which GEMM the fp32 CPU path uses: "onednn", or "at::linear" when oneDNN's sgemm was not found or
// ASR_TRAINER_SGEMM=at::linear (or "openblas") asked for the old path (kept for measuring one against the other).
const char* linear_backend();

}  // namespace asr
