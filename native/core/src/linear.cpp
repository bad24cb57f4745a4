#include "asr/linear.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

#include "asr/precision.h"

namespace asr {

namespace {

// dnnl_sgemm from oneDNN's C API (row-major, C = alpha·op(A)·op(B) + beta·C). Declared here rather than
// included: Debian ships libdnnl.so.2 with LibTorch but not its headers, and the symbol is looked up at run
// time so a LibTorch that links oneDNN statically and hides it (pip's) simply keeps at::linear.
using SgemmFn = int (*)(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                        int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

SgemmFn find_sgemm() {
  const char* choice = std::getenv("ASR_TRAINER_SGEMM");
  if (choice && (std::strcmp(choice, "at::linear") == 0 || std::strcmp(choice, "openblas") == 0)) return nullptr;
  // Already loaded as LibTorch's dependency; RTLD_NOLOAD never loads a second copy.
  if (void* lib = ::dlopen("libdnnl.so.2", RTLD_LAZY | RTLD_NOLOAD)) {
    if (void* sym = ::dlsym(lib, "dnnl_sgemm")) return reinterpret_cast<SgemmFn>(sym);
  }
  return reinterpret_cast<SgemmFn>(::dlsym(RTLD_DEFAULT, "dnnl_sgemm"));
}

SgemmFn sgemm() {
  static const SgemmFn fn = find_sgemm();
  return fn;
}

// C[m, n] = op(A) · op(B) on contiguous row-major fp32 matrices; 'T' transposes the stored matrix.
void gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const torch::Tensor& a, const torch::Tensor& b,
          const torch::Tensor& c) {
  const int64_t lda = ta == 'N' ? k : m;
  const int64_t ldb = tb == 'N' ? n : k;
  const int status =
      sgemm()(ta, tb, m, n, k, 1.0F, a.data_ptr<float>(), lda, b.data_ptr<float>(), ldb, 0.0F, c.data_ptr<float>(), n);
  TORCH_CHECK(status == 0, "oneDNN sgemm failed with status ", status, " (m=", m, " n=", n, " k=", k, ")");
}

// at::linear's maths with its three GEMMs in oneDNN: forward x·Wᵀ (+ b), backward g·W and gᵀ·x.
struct OneDnnLinear : torch::autograd::Function<OneDnnLinear> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias) {
    const int64_t in = weight.size(1), out = weight.size(0);
    const auto x2 = x.reshape({-1, in}).contiguous();
    const auto w = weight.contiguous();
    const int64_t rows = x2.size(0);
    // Allocated in the output's own shape: a view made here could not be modified in place later.
    auto shape = x.sizes().vec();
    shape.back() = out;
    auto y = torch::empty(shape, x.options());
    auto y2 = y.view({rows, out});
    if (rows > 0) gemm('N', 'T', rows, out, in, x2, w, y2);
    const bool has_bias = bias.numel() > 0;
    if (has_bias) y2.add_(bias);
    ctx->save_for_backward({x2, w});
    ctx->saved_data["has_bias"] = has_bias;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x2 = saved[0];
    const auto& w = saved[1];
    const int64_t in = w.size(1), out = w.size(0), rows = x2.size(0);
    const auto g = grads[0].reshape({-1, out}).contiguous();
    torch::Tensor grad_x, grad_w, grad_b;
    if (ctx->needs_input_grad(0)) {
      auto shape = grads[0].sizes().vec();
      shape.back() = in;
      grad_x = torch::empty(shape, g.options());
      auto grad_x2 = grad_x.view({rows, in});
      if (rows > 0) gemm('N', 'N', rows, in, out, g, w, grad_x2);
    }
    if (ctx->needs_input_grad(1)) {
      grad_w = torch::empty({out, in}, g.options());
      if (rows > 0)
        gemm('T', 'N', out, in, rows, g, x2, grad_w);
      else
        grad_w.zero_();  // no rows: sgemm is not called, and the gradient of an empty sum is zero
    }
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) grad_b = g.sum(0);
    return {grad_x, grad_w, grad_b};
  }
};

bool takes_onednn_path(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  return sgemm() != nullptr && x.device().is_cpu() && x.scalar_type() == torch::kFloat &&
         weight.scalar_type() == torch::kFloat && weight.dim() == 2 && x.dim() >= 1 && !x.is_mkldnn() &&
         (!bias.defined() || bias.scalar_type() == torch::kFloat) && !autocast_enabled(c10::DeviceType::CPU);
}

}  // namespace

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (!takes_onednn_path(x, weight, bias)) return torch::linear(x, weight, bias);
  // LibTorch 1.13's custom functions cannot take an undefined tensor: no bias travels as an empty one.
  return OneDnnLinear::apply(x, weight, bias.defined() ? bias : torch::empty({0}, x.options()));
}

const char* linear_backend() { return sgemm() ? "onednn" : "at::linear"; }

}  // namespace asr
