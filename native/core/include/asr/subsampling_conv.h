#pragma once
// The Conv2d subsampling's two 3x3 stride-2 convolutions (each followed by ReLU) on CPU, faster than two
// plain Conv2d's and, in bf16, correct.
//
// The first (1 -> C channels) is one GEMM over its 3x3 patches: oneDNN takes several times longer on one
// input channel. In fp32 the second (C -> C) stays oneDNN's convolution, fed channels last (NHWC), which
// is what the GEMM writes, so there is no reorder. In bf16 oneDNN 2.6's AMX convolution returns wrong
// values for many input lengths (precision.h), so the second convolution becomes six GEMMs on strided
// views of one activation buffer (no im2col copy) through oneDNN's AMX matmul, which is right.
#include <torch/torch.h>

namespace asr {

// features (B, T, n_mels) float32 on CPU, T and n_mels >= 7; the weights and biases of Conv2d(1, C, 3,
// stride 2) and Conv2d(C, C, 3, stride 2). Returns relu(conv2(relu(conv1(features)))) as (B, T', F', C)
// float32, channels last, with the products in `compute` (kFloat or kBFloat16, fp32 accumulation within
// each product). Gradients reach the four parameters, never the features.
torch::Tensor subsampling_convolutions_cpu(const torch::Tensor& features, const torch::Tensor& conv1_weight,
                                           const torch::Tensor& conv1_bias, const torch::Tensor& conv2_weight,
                                           const torch::Tensor& conv2_bias, at::ScalarType compute);

// Both convolutions as GEMMs over the parity-split buffer, what subsampling_convolutions_cpu runs in bf16;
// in fp32 the tests check that buffer's indexing against Conv2d to fp32 rounding.
torch::Tensor subsampling_convolutions_as_gemms(const torch::Tensor& features, const torch::Tensor& conv1_weight,
                                                const torch::Tensor& conv1_bias, const torch::Tensor& conv2_weight,
                                                const torch::Tensor& conv2_bias, at::ScalarType compute);

}  // namespace asr
