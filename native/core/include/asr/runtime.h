#pragma once
// Process-level settings a trainer depends on: intra-op threads, the device, glibc's allocator thresholds.
#include <torch/torch.h>

#include <cstddef>
#include <string>

namespace asr {

// Resolves auto|cpu|cuda|cuda:N (E_CUDA_UNAVAILABLE / E_INVALID_ARGUMENT as the Trainer does).
torch::Device resolve_device(const std::string& device);
// The count set_threads sets for `threads`: 0 means std::thread::hardware_concurrency(); E_INVALID_ARGUMENT
// below 0.
int thread_count(int threads);
// Sets LibTorch's intra-op threads to thread_count(threads). Returns the count set.
int set_threads(int threads);
// glibc hands freed blocks above its mmap threshold (and a heap top above its trim threshold) back to the
// kernel at once. A training step frees and reallocates the same large activations every step, so each
// step page-faults them all in again: measured ~100k minor faults and a quarter of an xs step's time on
// CPU. Raising both thresholds to 1 GiB keeps that memory in the process (xs: ~70 MB more resident, steps
// ~25% faster). Applied once per process by the first Trainer; skipped when the program said no
// (allow_allocator_tuning) or when glibc's own MALLOC_*/GLIBC_TUNABLES variables are set, since mallopt would
// override the user's settings. Returns whether it was applied.
bool keep_freed_memory();
// Whether keep_freed_memory may tune glibc at all (default: yes). The embedding program decides: the
// TypeScript layer reads ASR_TRAINER_MALLOC (src/native/allocator.ts) and passes its answer through the addon,
// so the core reads no variable of the product's. Effective only before the first keep_freed_memory call.
void allow_allocator_tuning(bool allowed);

// The bytes the allocator's heap holds (glibc's main arena and its memory in use or kept free, mmapped
// blocks included); 0 where unknown. Read at the end of a run: with keep_freed_memory that is the run's peak.
std::size_t heap_bytes();

// Grows the heap by `bytes` and touches every page of it, then frees it: with keep_freed_memory the pages
// stay resident, so the allocations of a checkpoint load and the first steps that follow reuse them
// instead of page-faulting (a fresh process: ~110k minor faults, ~1.2 s for an xs resume on the 2-core VM).
// For a trainer started ahead of its run, while nothing waits. Returns false (and does nothing) where
// keep_freed_memory is not applied, since the freed pages would go straight back to the kernel.
bool warm_heap(std::size_t bytes);

}  // namespace asr
