#pragma once
// The worker threads that compute a feature store's missing entries; used by feature_store.cpp.
#include <torch/torch.h>

#include <cstddef>
#include <functional>
#include <string>

#include "asr/dataset.h"

namespace asr {

// The outcome of computing one entry.
struct ComputedEntry {
  size_t job = 0;
  std::string skip_reason;
  torch::Tensor features;  // (frames, bins) normalised, contiguous float32; undefined when skipped
};

// Runs compute(job) for every job on `threads` workers; the calling thread receives the results in
// completion order through consume(), and reports progress.
void run_workers(size_t jobs, int threads, const std::function<ComputedEntry(size_t)>& compute,
                 const std::function<void(ComputedEntry&&)>& consume, const ProgressFn& progress);

}  // namespace asr
