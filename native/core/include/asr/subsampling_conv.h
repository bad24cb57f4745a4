#pragma once
// The Conv2d subsampling's two 3x3 stride-2 convolutions (each followed by ReLU) as CPU matrix products.
//
// oneDNN 2.6 runs the second convolution (d_model -> d_model channels) at about a third of the CPU's matmul
// rate, the first (1 -> d_model) far slower still, and its AMX bf16 kernel returns wrong values for many
// input lengths. Here both become plain GEMMs over strided views of one activation buffer, with no im2col
// copy of the big activation, so fp32 goes through BLAS and bf16 through oneDNN's (correct) AMX matmul.
#include <torch/torch.h>

namespace asr {

// features (B, T, n_mels) float32 on CPU, T and n_mels >= 7; the weights and biases of Conv2d(1, C, 3,
// stride 2) and Conv2d(C, C, 3, stride 2). Returns relu(conv2(relu(conv1(features)))) as (B, T', F', C)
// float32, channels last, with the products in `compute` (kFloat or kBFloat16, fp32 accumulation within
// each product). Gradients reach the four parameters, never the features.
torch::Tensor subsampling_convolutions_cpu(const torch::Tensor& features, const torch::Tensor& conv1_weight,
                                           const torch::Tensor& conv1_bias, const torch::Tensor& conv2_weight,
                                           const torch::Tensor& conv2_bias, at::ScalarType compute);

}  // namespace asr
