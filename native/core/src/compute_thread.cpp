#include "asr/compute_thread.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace asr {

namespace {

class ComputeThread {
 public:
  ComputeThread() : thread_([this] { loop(); }) { id_ = thread_.get_id(); }

  bool is_current() const { return std::this_thread::get_id() == id_; }

  void run(const std::function<void()>& work) {
    if (is_current()) {
      work();
      return;
    }
    Task task{&work};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(&task);
    }
    wake_.notify_one();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return task.finished; });
    if (task.error) std::rethrow_exception(task.error);
  }

 private:
  struct Task {
    const std::function<void()>* work;
    std::exception_ptr error;
    bool finished = false;
  };

  void loop() {
    for (;;) {
      Task* task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return !queue_.empty(); });
        task = queue_.front();
        queue_.pop_front();
      }
      try {
        (*task->work)();
      } catch (...) {
        task->error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        task->finished = true;
      }
      done_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::deque<Task*> queue_;
  std::thread thread_;
  std::thread::id id_;
};

// Never destroyed: the thread waits for work until the process ends, so no exit-time destructor has to
// stop it while some other thread may still be queueing.
ComputeThread& compute_thread() {
  static ComputeThread* instance = new ComputeThread;
  return *instance;
}

}  // namespace

void run_on_compute_thread(const std::function<void()>& work) { compute_thread().run(work); }

bool on_compute_thread() { return compute_thread().is_current(); }

void limit_this_thread_to_one_openmp_thread() {
  using SetFn = void (*)(int);
  static const auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  at::get_num_threads();  // LibTorch's per-thread lazy init runs first; run later, it would undo the setting
  if (set) set(1);
}

}  // namespace asr
