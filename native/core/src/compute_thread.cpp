#include "asr/compute_thread.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "asr/runtime.h"

namespace asr {

namespace {

class ComputeThread {
 public:
  ComputeThread() : thread_([this] { loop(); }) {
    id_ = thread_.get_id();
    // The thread's starting count, so that compute_thread_threads() never has to wait for it.
    run([] {});
  }

  bool is_current() const { return std::this_thread::get_id() == id_; }

  void run(const std::function<void()>& work) {
    if (is_current()) {
      work();
      threads_.store(at::get_num_threads());
      return;
    }
    Task task(work);
    enqueue(&task);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return task.finished; });
    if (task.error) std::rethrow_exception(task.error);
  }

  void post(std::function<void()> work) {
    auto* task = new Task(std::move(work), /*detached=*/true);
    enqueue(task);
  }

  int threads() const { return threads_.load(); }
  void set_threads_seen(int threads) { threads_.store(threads); }

 private:
  struct Task {
    explicit Task(std::function<void()> w, bool d = false) : work(std::move(w)), detached(d) {}
    std::function<void()> work;
    std::exception_ptr error;
    bool finished = false;
    bool detached = false;  // posted: nobody waits, the loop deletes it
  };

  void enqueue(Task* task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(task);
    }
    wake_.notify_one();
  }

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
        task->work();
      } catch (...) {
        task->error = std::current_exception();
      }
      threads_.store(at::get_num_threads());
      if (task->detached) {
        delete task;
        continue;
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
  std::atomic<int> threads_{0};
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

void post_to_compute_thread(std::function<void()> work) { compute_thread().post(std::move(work)); }

int compute_thread_threads() { return compute_thread().threads(); }

int set_compute_thread_threads(int threads) {
  const int count = thread_count(threads);
  compute_thread().set_threads_seen(count);
  post_to_compute_thread([count] { set_threads(count); });
  return count;
}

bool on_compute_thread() { return compute_thread().is_current(); }

void limit_this_thread_to_one_openmp_thread() {
  using SetFn = void (*)(int);
  static const auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  at::get_num_threads();  // LibTorch's per-thread lazy init runs first; run later, it would undo the setting
  if (set) set(1);
}

}  // namespace asr
