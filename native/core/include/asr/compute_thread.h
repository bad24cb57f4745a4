#pragma once
// One thread per process for LibTorch's compute, so that one OpenMP team serves every step.
//
// An OpenMP thread team belongs to the thread that opens a parallel region. When several threads take
// turns running a trainer's steps (an addon's worker pool hands each call to whichever thread is free),
// each of them grows its own team; the teams then outnumber the cores, and libgomp answers by parking its
// threads after every region instead of spinning, so each of the thousands of small regions in a step
// pays a wake-up. Measured from Node, s preset, batch 8 x 4 s, 2 threads: 820 ms per step with libuv's
// four pool threads taking turns, 630 ms with one (UV_THREADPOOL_SIZE=1), the same as the C++ binary.
#include <functional>

namespace asr {

// Runs `work` on the process's compute thread and waits for it; its exception, if any, is rethrown here.
// Calls from several threads run one after another, in arrival order. Called on the compute thread itself
// (from inside `work`), it runs `work` inline.
void run_on_compute_thread(const std::function<void()>& work);

// Queues `work` on the compute thread and returns at once; it runs after everything queued before it. An
// exception it throws is dropped, so it should not throw.
void post_to_compute_thread(std::function<void()> work);

// The compute thread's intra-op thread count as last seen there (when it started and after each piece of
// work), or as last set by set_compute_thread_threads: answered without waiting for the thread, which may
// be busy with a whole training call.
int compute_thread_threads();

// Sets the compute thread's intra-op threads (0: all cores; E_INVALID_ARGUMENT below 0) without waiting:
// the count is applied before any work queued after this call. Returns the count set.
int set_compute_thread_threads(int threads);

// Whether the calling thread is the compute thread.
bool on_compute_thread();

// Keeps the calling thread's LibTorch work (and OpenBLAS's, which shares its OpenMP pool) to one thread,
// so that it never opens an OpenMP team of its own: for helper threads (feature workers, the prefetcher,
// an addon's pool threads, Node's main thread) that run beside the compute thread. omp_set_num_threads is
// looked up at run time because the core does not link OpenMP itself, and a LibTorch built without
// OpenMP simply lacks the symbol.
void limit_this_thread_to_one_openmp_thread();

}  // namespace asr
