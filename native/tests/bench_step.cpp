// Times Trainer::train_step on random features and targets (issue 2, done-when 4; the bench issue's
// C++ side). Compare with bench/reference/conformer_ref.py at the same sizes and thread count.
//
// usage: asr_bench_step [--preset xs] [--batch 8] [--frames 400] [--chars 50] [--threads 2]
//                       [--steps 10] [--warmup 3] [--device cpu] [--precision fp32|bf16] [--no-specaugment]
//                       [--profile trace.json]
// --profile writes a chrome://tracing file of the timed steps (LibTorch's legacy profiler).
#include <ATen/CPUGeneratorImpl.h>

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <torch/version.h>
// The legacy profiler's RecordProfile (a chrome trace from C++) is what LibTorch 1.x offers; 2.x
// deprecates it, so --profile is a 1.x feature here.
#if TORCH_VERSION_MAJOR < 2
#include <torch/csrc/autograd/profiler_legacy.h>
#define ASR_BENCH_PROFILE 1
#endif

#include <memory>

#include "asr/errors.h"
#include "asr/trainer.h"

int main(int argc, char** argv) {
  std::string preset = "xs", device = "cpu", precision = "fp32", profile;
  int64_t batch_size = 8, frames = 400, chars = 50, steps = 10, warmup = 3;
  int threads = 2;
  bool spec_augment = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--preset")
      preset = value();
    else if (arg == "--batch")
      batch_size = std::stoll(value());
    else if (arg == "--frames")
      frames = std::stoll(value());
    else if (arg == "--chars")
      chars = std::stoll(value());
    else if (arg == "--threads")
      threads = std::stoi(value());
    else if (arg == "--steps")
      steps = std::stoll(value());
    else if (arg == "--warmup")
      warmup = std::stoll(value());
    else if (arg == "--device")
      device = value();
    else if (arg == "--precision")
      precision = value();
    else if (arg == "--no-specaugment")
      spec_augment = false;
    else if (arg == "--profile")
      profile = value();
    else {
      std::fprintf(stderr,
                   "usage: %s [--preset xs] [--batch 8] [--frames 400] [--chars 50] [--threads 2] "
                   "[--steps 10] [--warmup 3] [--device cpu] [--precision fp32|bf16] [--no-specaugment] "
                   "[--profile trace.json]\n",
                   argv[0]);
      return arg == "--help" ? 0 : 2;
    }
  }
  try {
    asr::TrainConfig train;
    train.threads = threads;
    train.device = device;
    train.precision = precision;
    train.spec_augment.enabled = spec_augment;
    asr::Trainer trainer(asr::model_preset(preset), train);

    auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
    asr::Batch batch;
    batch.features = at::randn({batch_size, frames, 80}, gen);
    batch.feature_lengths = torch::full({batch_size}, frames, torch::kLong);
    batch.targets =
        at::randint(3, asr::kVocabSize, {batch_size, chars}, gen, torch::TensorOptions().dtype(torch::kLong));
    batch.target_lengths = torch::full({batch_size}, chars, torch::kLong);

    // Wall time per step, and the process's CPU time per step: on a loaded machine the latter (at one
    // thread) is the steadier yardstick, since it does not count time spent waiting for a core.
    auto cpu_seconds = [] {
      timespec ts{};
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
    };
    std::vector<double> ms, cpu_ms;
#ifdef ASR_BENCH_PROFILE
    std::unique_ptr<torch::autograd::profiler::RecordProfile> recorder;
#else
    if (!profile.empty()) {
      std::fprintf(stderr, "--profile needs LibTorch 1.x (this is %s)\n", TORCH_VERSION);
      return 2;
    }
#endif
    for (int64_t i = 0; i < warmup + steps; ++i) {
#ifdef ASR_BENCH_PROFILE
      if (i == warmup && !profile.empty()) {
        recorder = std::make_unique<torch::autograd::profiler::RecordProfile>(profile);
      }
#endif
      const double cpu_start = cpu_seconds();
      const auto r = trainer.train_step(batch);
      const double cpu = (cpu_seconds() - cpu_start) * 1e3;
      if (i >= warmup) ms.push_back(r.seconds * 1e3), cpu_ms.push_back(cpu);
      std::printf("step %lld: %.1f ms (cpu %.1f ms) loss %.4f\n", static_cast<long long>(i + 1), r.seconds * 1e3, cpu,
                  r.loss);
    }
#ifdef ASR_BENCH_PROFILE
    recorder.reset();
#endif
    auto median = [](std::vector<double> v) {
      if (v.empty()) return 0.0;
      std::sort(v.begin(), v.end());
      return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    };
    std::printf(
        "cpp preset=%s batch=%lld frames=%lld threads=%d device=%s params=%lld median_ms=%.1f min_ms=%.1f "
        "median_cpu_ms=%.1f\n",
        preset.c_str(), static_cast<long long>(batch_size), static_cast<long long>(frames), threads,
        trainer.device_name().c_str(), static_cast<long long>(trainer.parameter_count()), median(ms),
        ms.empty() ? 0 : *std::min_element(ms.begin(), ms.end()), median(cpu_ms));
  } catch (const asr::Error& e) {
    std::fprintf(stderr, "%s: %s\n", e.code().c_str(), e.what());
    return 1;
  }
  return 0;
}
