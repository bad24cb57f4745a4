#include "feature_workers.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "asr/compute_thread.h"

namespace asr {

// Runs compute(job) for every job on `threads` workers; the calling thread receives the results in
// completion order through consume(), and reports progress.
void run_workers(size_t jobs, int threads, const std::function<ComputedEntry(size_t)>& compute,
                 const std::function<void(ComputedEntry&&)>& consume, const ProgressFn& progress) {
  if (jobs == 0) return;
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t n_workers = std::min<size_t>(jobs, static_cast<size_t>(threads > 0 ? threads : hw));
  std::atomic<size_t> next{0};
  std::atomic<bool> abort{false};
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<ComputedEntry> results;
  std::exception_ptr worker_error;

  const auto work = [&] {
    limit_this_thread_to_one_openmp_thread();
    for (size_t job; !abort && (job = next++) < jobs;) {
      try {
        ComputedEntry c = compute(job);
        c.job = job;
        std::lock_guard<std::mutex> lock(mutex);
        results.push_back(std::move(c));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!worker_error) worker_error = std::current_exception();
        abort = true;
      }
      cv.notify_one();
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(n_workers);
  for (size_t i = 0; i < n_workers; ++i) workers.emplace_back(work);

  std::exception_ptr error;
  try {
    if (progress) progress(0, static_cast<int64_t>(jobs));
    for (size_t done = 0; done < jobs;) {
      std::deque<ComputedEntry> batch;
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return !results.empty() || worker_error; });
        if (worker_error) std::rethrow_exception(worker_error);
        batch.swap(results);
      }
      for (auto& c : batch) consume(std::move(c));
      done += batch.size();
      if (progress) progress(static_cast<int64_t>(done), static_cast<int64_t>(jobs));
    }
  } catch (...) {
    error = std::current_exception();
    abort = true;
  }
  for (auto& t : workers) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace asr
