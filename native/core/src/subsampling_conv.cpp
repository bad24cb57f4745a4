#include "asr/subsampling_conv.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

namespace asr {

namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Sizes of both convolutions for one batch shape, and the layout of the activation buffer between them.
//
// The first convolution's output h (B, T1, F1, C) is stored with rows and columns split by parity,
// buffer[pr][b][hh][ww][pc][c] = h[b][2hh+pr][2ww+pc][c] for hh < T2+1, ww < F2+1, zero past T1 or F1.
// Number the second convolution's output pixels m = (b * hh_count + ho) * ww_count + wo. Its kernel row i
// reads input row 2ho+i, which is parity plane pr at pair ho+dh, (pr, dh) = (0, 0), (1, 0), (0, 1); kernel
// columns 0 and 1 are the 2C values at ww = wo, column 2 the first C values at ww = wo+1. Over all m both
// are matrices of row stride 2C, so each kernel row is two GEMMs, (M x 2C)(2C x C) and (M x C)(C x C), on
// views of the buffer. Pixels with ho = T2 or wo = F2 are computed and dropped (6% more rows at 400x80).
struct Geometry {
  int64_t batch, frames, mels, channels;
  int64_t t1, f1, t2, f2;
  int64_t hh_count, ww_count;

  Geometry(int64_t batch_, int64_t frames_, int64_t mels_, int64_t channels_)
      : batch(batch_), frames(frames_), mels(mels_), channels(channels_) {
    t1 = (frames - 3) / 2 + 1, f1 = (mels - 3) / 2 + 1;
    t2 = (t1 - 3) / 2 + 1, f2 = (f1 - 3) / 2 + 1;
    hh_count = t2 + 1, ww_count = f2 + 1;
  }
  int64_t pixels() const { return batch * hh_count * ww_count; }
  int64_t plane() const { return pixels() * 2 * channels; }
  // Column 2's view of the last pixel of plane 1 reads C values past it.
  int64_t buffer_size() const { return 2 * plane() + channels; }
  int64_t kernel_row_offset(int64_t i) const { return i == 1 ? plane() : i == 2 ? ww_count * 2 * channels : 0; }
  // Kernel columns 0 and 1 (M x 2C), or column 2 (M x C), of kernel row i, as a view of `buffer`.
  Tensor columns_01(const Tensor& buffer, int64_t i) const {
    return buffer.as_strided({pixels(), 2 * channels}, {2 * channels, 1}, kernel_row_offset(i));
  }
  Tensor column_2(const Tensor& buffer, int64_t i) const {
    return buffer.as_strided({pixels(), channels}, {2 * channels, 1}, kernel_row_offset(i) + 2 * channels);
  }
};

// The first convolution's 3x3 patches in buffer order (2 * B * T2+1 * F2+1 * 2 rows), each followed by a 1
// for the bias; rows of positions past T1 or F1 are all zero, so those positions stay exactly 0 after ReLU.
Tensor first_conv_patches(const Tensor& features, const Geometry& g) {
  const int64_t tp = 4 * g.hh_count + 1, mp = 4 * g.ww_count + 1;
  auto padded = torch::zeros({g.batch, tp, mp}, features.options());
  const auto t = std::min(g.frames, tp), f = std::min(g.mels, mp);
  padded.narrow(1, 0, t).narrow(2, 0, f).copy_(features.narrow(1, 0, t).narrow(2, 0, f));
  // Buffer position (pr, b, hh, ww, pc) is h's (2hh+pr, 2ww+pc), whose patch starts at (4hh+2pr, 4ww+2pc).
  auto patches =
      padded.as_strided({2, g.batch, g.hh_count, g.ww_count, 2, 3, 3}, {2 * mp, tp * mp, 4 * mp, 4, 2, mp, 1})
          .reshape({2, g.batch, g.hh_count, g.ww_count, 2, 9});
  auto valid = torch::zeros({2, 1, g.hh_count, g.ww_count, 2, 1}, features.options());
  for (int64_t pr = 0; pr < 2; ++pr) {
    for (int64_t pc = 0; pc < 2; ++pc) {
      valid[pr][0].narrow(0, 0, (g.t1 - pr + 1) / 2).narrow(1, 0, (g.f1 - pc + 1) / 2).select(2, pc).fill_(1);
    }
  }
  return (torch::cat({patches, torch::ones_like(valid).expand({2, g.batch, g.hh_count, g.ww_count, 2, 1})}, -1) * valid)
      .view({-1, 10});
}

// ReLU's backward in place: grad = 0 where the activation is not positive. One pass over memory, with
// no mask tensor and no fresh output the size of the buffer.
void zero_where_not_positive(float* grad, const float* activation, int64_t n) {
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) grad[k] = activation[k] > 0.f ? grad[k] : 0.f;
  });
}

// bf16 on its bits, as integer compares the compiler vectorizes (ATen's bf16 relu_ took 8 ms of the xs
// forward at 1 thread; these two loops took 10% off the bf16 step): 0x0001..0x7F80 are the positive values
// up to +inf, 0x8001..0xFF80 the negative ones down to -inf (NaN is neither, and passes through as in ReLU).
bool bf16_positive(uint16_t bits) { return static_cast<uint16_t>(bits - 0x0001) < 0x7F80; }
bool bf16_negative(uint16_t bits) { return static_cast<uint16_t>(bits - 0x8001) < 0x7F80; }

void zero_where_not_positive(at::BFloat16* grad, const at::BFloat16* activation, int64_t n) {
  auto* g = reinterpret_cast<uint16_t*>(grad);
  const auto* a = reinterpret_cast<const uint16_t*>(activation);
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) g[k] = bf16_positive(a[k]) ? g[k] : uint16_t{0};
  });
}

void relu_bf16_(at::BFloat16* values, int64_t n) {
  auto* v = reinterpret_cast<uint16_t*>(values);
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) v[k] = bf16_negative(v[k]) ? uint16_t{0} : v[k];
  });
}

// bf16: both convolutions as GEMMs over the parity-split buffer (Geometry).
class SubsamplingConvolutions : public torch::autograd::Function<SubsamplingConvolutions> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& features, const Tensor& w1, const Tensor& b1,
                        const Tensor& w2, const Tensor& b2, at::ScalarType compute) {
    // The dtypes here are chosen explicitly; autocast must not recast them.
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
    const int64_t c = w2.size(0);
    const Geometry g(features.size(0), features.size(1), features.size(2), c);
    const auto options = features.options().dtype(compute);

    auto patches = first_conv_patches(features.to(torch::kFloat), g).to(compute);
    auto w1_and_bias = torch::cat({w1.reshape({c, 9}), b1.reshape({c, 1})}, 1).to(compute);  // (C, 10)
    auto buffer = torch::empty({g.buffer_size()}, options);
    buffer.narrow(0, 2 * g.plane(), c).zero_();
    auto h = buffer.narrow(0, 0, 2 * g.plane()).view({-1, c});
    at::mm_out(h, patches, w1_and_bias.t());
    if (compute == torch::kFloat) {
      h.relu_();
    } else {
      relu_bf16_(h.data_ptr<at::BFloat16>(), h.numel());
    }

    auto kernel = w2.permute({2, 3, 1, 0}).contiguous().to(compute);  // (row, column, C in, C out)
    Tensor out;                                                       // (M, C) float32
    for (int64_t i = 0; i < 3; ++i) {
      const auto k01 = kernel[i].narrow(0, 0, 2).view({2 * c, c});
      const auto k2 = kernel[i][2];
      if (compute == torch::kFloat) {
        out = i == 0 ? at::addmm(b2, g.columns_01(buffer, i), k01) : out.addmm_(g.columns_01(buffer, i), k01);
        out.addmm_(g.column_2(buffer, i), k2);
      } else {
        // bf16 products summed in fp32, so the six partial sums are not each rounded to bf16.
        out = i == 0 ? at::mm(g.columns_01(buffer, i), k01).to(torch::kFloat).add_(b2)
                     : out.add_(at::mm(g.columns_01(buffer, i), k01));
        out.add_(at::mm(g.column_2(buffer, i), k2));
      }
    }
    auto y = out.view({g.batch, g.hh_count, g.ww_count, c}).narrow(1, 0, g.t2).narrow(2, 0, g.f2).relu();

    ctx->save_for_backward({patches, buffer, kernel, y});
    ctx->saved_data["frames"] = g.frames;
    ctx->saved_data["mels"] = g.mels;
    ctx->saved_data["batch"] = g.batch;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
    const auto saved = ctx->get_saved_variables();
    const auto &patches = saved[0], &buffer = saved[1], &kernel = saved[2], &y = saved[3];
    const int64_t c = kernel.size(3);
    const Geometry g(ctx->saved_data["batch"].toInt(), ctx->saved_data["frames"].toInt(),
                     ctx->saved_data["mels"].toInt(), c);
    const auto options = buffer.options();

    auto grad_y = at::threshold_backward(grads[0], y, 0);  // (B, T2, F2, C) fp32
    auto grad_b2 = grad_y.sum({0, 1, 2});
    // Dropped pixels get a zero gradient, so they add nothing to either product below.
    auto grad_out = torch::zeros({g.batch, g.hh_count, g.ww_count, c}, options);
    grad_out.narrow(1, 0, g.t2).narrow(2, 0, g.f2).copy_(grad_y);
    const auto grad_pixels = grad_out.view({g.pixels(), c});

    auto grad_kernel = torch::empty({3, 3, c, c}, options);
    for (int64_t i = 0; i < 3; ++i) {
      auto grad_k01 = grad_kernel[i].narrow(0, 0, 2).view({2 * c, c});
      auto grad_k2 = grad_kernel[i][2];
      at::mm_out(grad_k01, g.columns_01(buffer, i).t(), grad_pixels);
      at::mm_out(grad_k2, g.column_2(buffer, i).t(), grad_pixels);
    }
    // Columns 0-1 of kernel rows 0 and 1 cover planes 0 and 1 exactly: they write, the other four add.
    auto grad_buffer = torch::empty({g.buffer_size()}, options);
    grad_buffer.narrow(0, 2 * g.plane(), c).zero_();
    for (int64_t i : {0, 1}) {
      auto grad_columns = g.columns_01(grad_buffer, i);
      at::mm_out(grad_columns, grad_pixels, kernel[i].narrow(0, 0, 2).view({2 * c, c}).t());
    }
    g.columns_01(grad_buffer, 2).addmm_(grad_pixels, kernel[2].narrow(0, 0, 2).view({2 * c, c}).t());
    for (int64_t i = 0; i < 3; ++i) g.column_2(grad_buffer, i).addmm_(grad_pixels, kernel[i][2].t());
    auto grad_w2 = grad_kernel.permute({3, 2, 0, 1}).contiguous().to(torch::kFloat);

    const auto n = 2 * g.plane();
    if (buffer.scalar_type() == torch::kFloat) {
      zero_where_not_positive(grad_buffer.data_ptr<float>(), buffer.data_ptr<float>(), n);
    } else {
      zero_where_not_positive(grad_buffer.data_ptr<at::BFloat16>(), buffer.data_ptr<at::BFloat16>(), n);
    }
    auto grad_w1_and_bias = at::mm(grad_buffer.narrow(0, 0, n).view({-1, c}).t(), patches).to(torch::kFloat);
    auto grad_w1 = grad_w1_and_bias.narrow(1, 0, 9).reshape({c, 1, 3, 3});
    auto grad_b1 = grad_w1_and_bias.select(1, 9).contiguous();
    return {Tensor(), grad_w1, grad_b1, grad_w2, grad_b2, Tensor()};
  }
};

// fp32: the first convolution as one GEMM over its patches, output channels last (B, T1, F1, C) so that
// oneDNN's fp32 convolution takes it as NHWC without a reorder; on channels-last input that convolution
// outruns the six OpenBLAS GEMMs of the bf16 path (32 vs 57 ms forward for xs at 1 thread).
class FirstConvolution : public torch::autograd::Function<FirstConvolution> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& features, const Tensor& w1, const Tensor& b1) {
    const int64_t c = w1.size(0), b = features.size(0), t = features.size(1), m = features.size(2);
    const int64_t t1 = (t - 3) / 2 + 1, f1 = (m - 3) / 2 + 1;
    const auto input = features.contiguous();
    auto patches = torch::cat({input.as_strided({b, t1, f1, 3, 3}, {t * m, 2 * m, 2, m, 1}).reshape({-1, 9}),
                               torch::ones({b * t1 * f1, 1}, input.options())},
                              1);
    auto h = at::mm(patches, torch::cat({w1.reshape({c, 9}), b1.reshape({c, 1})}, 1).t()).relu_();
    ctx->save_for_backward({patches, h});
    return h.view({b, t1, f1, c});
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &patches = saved[0], &h = saved[1];
    // The gradient comes fresh from the second convolution's backward and only this node reads it.
    auto grad = grads[0].contiguous().view(h.sizes());
    zero_where_not_positive(grad.data_ptr<float>(), h.data_ptr<float>(), h.numel());
    auto grad_w1_and_bias = at::mm(grad.t(), patches);  // (C, 10)
    return {Tensor(), grad_w1_and_bias.narrow(1, 0, 9).reshape({h.size(1), 1, 3, 3}),
            grad_w1_and_bias.select(1, 9).contiguous()};
  }
};

void check_features(const Tensor& features, at::ScalarType compute) {
  TORCH_CHECK(features.is_cpu() && features.dim() == 3 && features.size(1) >= 7 && features.size(2) >= 7,
              "subsampling convolutions: features must be (B, T >= 7, n_mels >= 7) on CPU, got ", features.sizes());
  TORCH_CHECK(compute == torch::kFloat || compute == torch::kBFloat16,
              "subsampling convolutions: compute must be float32 or bfloat16");
}

}  // namespace

Tensor subsampling_convolutions_cpu(const Tensor& features, const Tensor& conv1_weight, const Tensor& conv1_bias,
                                    const Tensor& conv2_weight, const Tensor& conv2_bias, at::ScalarType compute) {
  if (compute == torch::kBFloat16) {
    return subsampling_convolutions_as_gemms(features, conv1_weight, conv1_bias, conv2_weight, conv2_bias, compute);
  }
  check_features(features, compute);
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  auto h = FirstConvolution::apply(features.detach().to(torch::kFloat), conv1_weight, conv1_bias);
  auto y = at::conv2d(h.permute({0, 3, 1, 2}), conv2_weight.contiguous(at::MemoryFormat::ChannelsLast), conv2_bias,
                      /*stride=*/2)
               .relu_();
  return y.permute({0, 2, 3, 1});  // (B, T', F', C), contiguous: oneDNN keeps the input's channels-last layout
}

Tensor subsampling_convolutions_as_gemms(const Tensor& features, const Tensor& conv1_weight, const Tensor& conv1_bias,
                                         const Tensor& conv2_weight, const Tensor& conv2_bias, at::ScalarType compute) {
  check_features(features, compute);
  return SubsamplingConvolutions::apply(features.detach(), conv1_weight, conv1_bias, conv2_weight, conv2_bias, compute);
}

}  // namespace asr
