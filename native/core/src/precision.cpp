#include "asr/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/library.h>

#include "asr/errors.h"

namespace asr {

namespace {

// Autocast kernels that run the op in fp32: cast floating inputs up, then call the op with autocast
// excluded so it reaches the normal CPU kernel.
at::Tensor up(const at::Tensor& t) { return t.scalar_type() == at::kBFloat16 ? t.to(at::kFloat) : t; }
c10::optional<at::Tensor> up(const c10::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? c10::optional<at::Tensor>(up(*t)) : t;
}

at::Tensor layer_norm_fp32(const at::Tensor& input, at::IntArrayRef shape, const c10::optional<at::Tensor>& weight,
                           const c10::optional<at::Tensor>& bias, double eps, bool cudnn) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  return at::layer_norm(up(input), shape, up(weight), up(bias), eps, cudnn);
}

at::Tensor batch_norm_fp32(const at::Tensor& input, const c10::optional<at::Tensor>& weight,
                           const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& mean,
                           const c10::optional<at::Tensor>& var, bool training, double momentum, double eps,
                           bool cudnn) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  return at::batch_norm(up(input), up(weight), up(bias), mean, var, training, momentum, eps, cudnn);
}

at::Tensor softmax_fp32(const at::Tensor& input, int64_t dim, c10::optional<at::ScalarType> dtype) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  return at::softmax(up(input), dim, dtype);
}

at::Tensor log_softmax_fp32(const at::Tensor& input, int64_t dim, c10::optional<at::ScalarType> dtype) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  return at::log_softmax(up(input), dim, dtype);
}

}  // namespace

TORCH_LIBRARY_IMPL(aten, AutocastCPU, m) {
  m.impl("layer_norm", TORCH_FN(layer_norm_fp32));
  m.impl("batch_norm", TORCH_FN(batch_norm_fp32));
  m.impl("softmax.int", TORCH_FN(softmax_fp32));
  m.impl("log_softmax.int", TORCH_FN(log_softmax_fp32));
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  throw Error(codes::kInvalidArgument, "precision '" + name + "' is not fp32 or bf16");
}

std::string precision_name(Precision precision) { return precision == Precision::kBf16 ? "bf16" : "fp32"; }

AutocastScope::AutocastScope(Precision precision, c10::DeviceType device) {
  if (precision != Precision::kBf16) return;
  active_ = true;
  cuda_ = device == c10::DeviceType::CUDA;
  if (cuda_) {
    previous_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  } else {
    previous_enabled_ = at::autocast::is_cpu_enabled();
    previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // The bf16 copies of the weights are cached for one forward pass; the next one must see the update.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda_) {
    at::autocast::set_enabled(previous_enabled_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
  } else {
    at::autocast::set_cpu_enabled(previous_enabled_);
    at::autocast::set_autocast_cpu_dtype(previous_dtype_);
  }
}

CpuAutocastOff::CpuAutocastOff() : previous_(at::autocast::is_cpu_enabled()) {
  if (previous_) at::autocast::set_cpu_enabled(false);
}

CpuAutocastOff::~CpuAutocastOff() {
  if (previous_) at::autocast::set_cpu_enabled(true);
}

}  // namespace asr
