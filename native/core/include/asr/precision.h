#pragma once
// Compute precision of the forward pass: fp32, or bf16 autocast (weights, optimizer state, gradients and
// checkpoints stay fp32; matmuls and convolutions run in bf16 — oneDNN's AVX512-BF16/AMX kernels on CPU).
#include <torch/torch.h>

#include <string>

namespace asr {

enum class Precision { kFp32, kBf16 };

// "fp32" | "bf16"; anything else throws E_INVALID_ARGUMENT naming both.
Precision parse_precision(const std::string& name);
std::string precision_name(Precision precision);

// While alive, ops on this thread run under autocast for `device` when precision is bf16 (no-op for fp32).
// On CPU, layer_norm, batch_norm, softmax and log_softmax are taken out of bf16: LibTorch 1.13's CPU
// autocast leaves them to their input's dtype, where layer_norm and batch_norm reject a bf16 input with
// fp32 weights, and the normalisations are where bf16's 8-bit mantissa loses most.
class AutocastScope {
 public:
  AutocastScope(Precision precision, c10::DeviceType device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool active_ = false;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

// Autocast state of this thread for a device type (CPU or CUDA), over LibTorch 1.13's and 2.x's APIs.
bool autocast_enabled(c10::DeviceType device);
void set_autocast_enabled(c10::DeviceType device, bool enabled);
at::ScalarType autocast_dtype(c10::DeviceType device);
void set_autocast_dtype(c10::DeviceType device, at::ScalarType dtype);

// While alive, CPU autocast is off on this thread (restored after). oneDNN 2.6's AMX bf16 kernel for the
// subsampling's 3x3 stride-2 convolution returns wrong values, inf and NaN for many input lengths (with 2
// threads, 47 of 60 lengths tried for d_model 144; avoided without AMX), and one NaN forward poisons the
// BatchNorm running statistics, so every later evaluation is NaN. On CPU the subsampling therefore never
// calls that kernel: its convolutions run as GEMMs (subsampling_conv.h), in bf16 under autocast through
// oneDNN's AMX matmul, which is right on those lengths (test_subsampling_conv.cpp). Only its fallback to
// the plain Conv2d (features that need a gradient, inputs under 7 frames) runs under this guard.
class CpuAutocastOff {
 public:
  CpuAutocastOff();
  ~CpuAutocastOff();
  CpuAutocastOff(const CpuAutocastOff&) = delete;
  CpuAutocastOff& operator=(const CpuAutocastOff&) = delete;

 private:
  bool previous_;
};

}  // namespace asr
