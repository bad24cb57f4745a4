// Times one optimizer update (gradient clip + AdamW) of a preset's parameters: LibTorch's
// clip_grad_norm_ + AdamW::step ("per-tensor") against clip_grad_norm + multi_tensor_adamw_step
// ("multi-tensor"), alternating the two each round so that a shared machine's load hits both alike.
//
// usage: asr_bench_optimizer [--preset xs] [--threads 1] [--rounds 30] [--device cpu]
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "asr/errors.h"
#include "asr/model.h"
#include "asr/multi_tensor_adamw.h"

namespace {

struct Side {
  std::vector<torch::Tensor> params;
  std::unique_ptr<torch::optim::AdamW> optimizer;
};

Side make_side(const asr::ModelConfig& config, torch::Device device) {
  torch::manual_seed(5);
  asr::ConformerCTC model(config);
  model->to(device);
  Side side;
  side.params = model->parameters();
  for (auto& p : side.params) p.mutable_grad() = torch::randn_like(p);
  // The trainer's defaults (asr/trainer.h); a clip at 5 with these gradients clips every update.
  torch::optim::AdamWOptions options(1e-3);
  options.betas({0.9, 0.98}).eps(1e-9).weight_decay(1e-3);
  side.optimizer = std::make_unique<torch::optim::AdamW>(side.params, options);
  return side;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset = "xs", device = "cpu";
  int threads = 1, rounds = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i], value = argv[i + 1];
    if (arg == "--preset") {
      preset = value;
    } else if (arg == "--threads") {
      threads = std::stoi(value);
    } else if (arg == "--rounds") {
      rounds = std::stoi(value);
    } else if (arg == "--device") {
      device = value;
    } else {
      std::fprintf(stderr, "usage: %s [--preset xs] [--threads 1] [--rounds 30] [--device cpu]\n", argv[0]);
      return 2;
    }
  }
  try {
    torch::set_num_threads(threads);
    const torch::Device dev(device);
    auto per_tensor = make_side(asr::model_preset(preset), dev);
    auto multi = make_side(asr::model_preset(preset), dev);
    auto sync = [&] {
      if (dev.is_cuda()) torch::cuda::synchronize();
    };
    auto time_ms = [&](auto&& update) {
      sync();
      const auto start = std::chrono::steady_clock::now();
      update();
      sync();
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    };
    std::vector<double> old_ms, new_ms;
    for (int r = 0; r < rounds + 3; ++r) {  // 3 warm-up rounds
      const double a = time_ms([&] {
        torch::nn::utils::clip_grad_norm_(per_tensor.params, 5.0);
        per_tensor.optimizer->step();
      });
      const double b = time_ms([&] {
        asr::clip_grad_norm(multi.params, 5.0).item<double>();
        asr::multi_tensor_adamw_step(*multi.optimizer);
      });
      if (r >= 3) old_ms.push_back(a), new_ms.push_back(b);
    }
    int64_t numel = 0;
    for (const auto& p : multi.params) numel += p.numel();
    std::printf(
        "optimizer preset=%s device=%s threads=%d tensors=%zu params=%lld rounds=%d "
        "per_tensor_median_ms=%.2f multi_tensor_median_ms=%.2f ratio=%.3f\n",
        preset.c_str(), device.c_str(), threads, multi.params.size(), static_cast<long long>(numel), rounds,
        median(old_ms), median(new_ms), median(old_ms) / median(new_ms));
  } catch (const asr::Error& e) {
    std::fprintf(stderr, "%s: %s\n", e.code().c_str(), e.what());
    return 1;
  }
  return 0;
}
