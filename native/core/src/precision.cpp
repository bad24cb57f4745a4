#include "asr/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/library.h>
#include <torch/version.h>

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

// LibTorch 2.4 replaced the per-device autocast functions (is_cpu_enabled, set_autocast_gpu_dtype, ...) by
// ones taking the device type, and later releases warn on every call of the old ones; 1.13 has only those.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(c10::DeviceType device) { return at::autocast::is_autocast_enabled(device); }
void set_autocast_enabled(c10::DeviceType device, bool enabled) { at::autocast::set_autocast_enabled(device, enabled); }
at::ScalarType autocast_dtype(c10::DeviceType device) { return at::autocast::get_autocast_dtype(device); }
void set_autocast_dtype(c10::DeviceType device, at::ScalarType dtype) {
  at::autocast::set_autocast_dtype(device, dtype);
}
#else
bool autocast_enabled(c10::DeviceType device) {
  return device == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast_enabled(c10::DeviceType device, bool enabled) {
  if (device == c10::DeviceType::CUDA)
    at::autocast::set_enabled(enabled);
  else
    at::autocast::set_cpu_enabled(enabled);
}
at::ScalarType autocast_dtype(c10::DeviceType device) {
  return device == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                         : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_dtype(c10::DeviceType device, at::ScalarType dtype) {
  if (device == c10::DeviceType::CUDA)
    at::autocast::set_autocast_gpu_dtype(dtype);
  else
    at::autocast::set_autocast_cpu_dtype(dtype);
}
#endif

AutocastScope::AutocastScope(Precision precision, c10::DeviceType device) : device_(device) {
  if (precision != Precision::kBf16) return;
  active_ = true;
  previous_enabled_ = autocast_enabled(device_);
  previous_dtype_ = autocast_dtype(device_);
  set_autocast_dtype(device_, at::kBFloat16);
  set_autocast_enabled(device_, true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // The bf16 copies of the weights are cached for one forward pass; the next one must see the update.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(device_, previous_enabled_);
  set_autocast_dtype(device_, previous_dtype_);
}

CpuAutocastOff::CpuAutocastOff() : previous_(autocast_enabled(c10::DeviceType::CPU)) {
  if (previous_) set_autocast_enabled(c10::DeviceType::CPU, false);
}

CpuAutocastOff::~CpuAutocastOff() {
  if (previous_) set_autocast_enabled(c10::DeviceType::CPU, true);
}

}  // namespace asr
