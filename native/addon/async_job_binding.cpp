// AsyncJob: the promise-returning worker every slow call is built on (binding.h).
#include <utility>

#include "asr/compute_thread.h"
#include "binding.h"

namespace asr_addon {

AsyncJob::AsyncJob(Napi::Env env, const char* name)
    : Napi::AsyncWorker(env, name), name_(name), deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Promise AsyncJob::Start() {
  // With progress, the thread-safe function's finalizer settles and deletes the job (after the last
  // event), so the worker must not delete itself after OnOK.
  if (progress_) SuppressDestruct();
  Queue();
  return deferred_.Promise();
}

void AsyncJob::EnableProgress(Napi::Function callback) {
  progress_ = true;
  tsfn_ = Napi::ThreadSafeFunction::New(Env(), callback, name_, 0, 1, this, [](Napi::Env env, AsyncJob* job) {
    job->Settle(env);
    delete job;
  });
}

void AsyncJob::Post(Event event) {
  auto* boxed = new Event(std::move(event));
  const napi_status status = tsfn_.NonBlockingCall(boxed, [this](Napi::Env env, Napi::Function callback, Event* data) {
    std::unique_ptr<Event> owned(data);
    if (static_cast<napi_env>(env) == nullptr || callback_failed_.load()) return;
    try {
      (*owned)(env, callback);
    } catch (const Napi::Error& e) {
      callback_error_ = Napi::Reference<Napi::Value>::New(e.Value(), 1);
      callback_failed_.store(true);
    }
  });
  if (status != napi_ok) delete boxed;
}

void AsyncJob::Execute() {
  try {
    // Pool threads open no OpenMP team of their own: a trainer's compute runs on the compute thread
    // (compute_thread.h), and any second team makes libgomp park its threads after every region.
    asr::limit_this_thread_to_one_openmp_thread();
    Run();
  } catch (...) {
    failure_ = Describe(std::current_exception());
    failed_ = true;
  }
}

void AsyncJob::OnOK() { Complete(Env()); }

void AsyncJob::OnError(const Napi::Error&) { Complete(Env()); }

void AsyncJob::Complete(Napi::Env env) {
  if (progress_) {
    tsfn_.Release();
  } else {
    Settle(env);
  }
}

// Also runs from the thread-safe function's finalizer, where nothing may throw past it (that would
// terminate the process), so every failure ends as a rejection or, at environment teardown, nothing.
void AsyncJob::Settle(Napi::Env env) {
  try {
    Napi::HandleScope scope(env);
    Finish(env);
    if (!callback_error_.IsEmpty()) {
      deferred_.Reject(callback_error_.Value());
    } else if (failed_) {
      deferred_.Reject(MakeError(env, failure_.code, failure_.message));
    } else {
      deferred_.Resolve(Guarded(env, [&] { return Result(env); }));
    }
  } catch (const Napi::Error& e) {
    try {
      deferred_.Reject(e.Value());
    } catch (const Napi::Error&) {
      // The environment is being torn down: no JS is left to receive the outcome.
    }
  }
}

}  // namespace asr_addon
