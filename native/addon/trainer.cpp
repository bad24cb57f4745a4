// Trainer: a JS handle on one asr::Trainer. Every slow call is an AsyncJob that holds the trainer while
// it runs; one call at a time (a second one rejects with E_INVALID_ARGUMENT rather than racing).
#include <atomic>
#include <memory>
#include <utility>

#include "asr/compute_thread.h"
#include "asr/errors.h"
#include "binding.h"

namespace asr_addon {

namespace {

class TrainerWrap;

// What a job needs from its owner: the trainer, a way to keep the JS object alive, and the busy flag.
class TrainerJob : public AsyncJob {
 protected:
  TrainerJob(Napi::Env env, const char* name, TrainerWrap* owner);
  void Finish(Napi::Env env) override;
  // Main thread: frees the trainer for the next call before this job settles (once; Finish then skips it).
  void ReleaseEarly();

  TrainerWrap* owner_;
  std::shared_ptr<asr::Trainer> trainer_;
  int threads_;

 private:
  Napi::ObjectReference owner_ref_;
  bool released_ = false;
};

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Trainer",
                       {
                           InstanceMethod<&TrainerWrap::Train>("train"),
                           InstanceMethod<&TrainerWrap::Evaluate>("evaluate"),
                           InstanceMethod<&TrainerWrap::Transcribe>("transcribe"),
                           InstanceMethod<&TrainerWrap::Save>("save"),
                           InstanceMethod<&TrainerWrap::Load>("load"),
                           InstanceAccessor<&TrainerWrap::GlobalStep>("globalStep"),
                           InstanceAccessor<&TrainerWrap::ParameterCount>("parameterCount"),
                           InstanceAccessor<&TrainerWrap::Device>("device"),
                           InstanceAccessor<&TrainerWrap::Lr>("lr"),
                           InstanceAccessor<&TrainerWrap::GetModelConfig>("modelConfig"),
                           InstanceAccessor<&TrainerWrap::GetTrainConfig>("trainConfig"),
                       });
  }

  explicit TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
    Napi::Env env = info.Env();
    if (!info.IsConstructCall()) ThrowInvalid(env, "Trainer is a class: use new Trainer(model, train)");
    const asr::ModelConfig model = ModelConfigFromJs(info[0]);
    const asr::TrainConfig train = TrainConfigFromJs(info[1]);
    Guarded(env, [&] {
      // Built on the compute thread like every later call (compute_thread.h): initialising the weights
      // opens parallel regions too. LibTorch starts with one intra-op thread; the config's count applies.
      asr::run_on_compute_thread([&] {
        asr::set_threads(train.threads);
        trainer_ = std::make_shared<asr::Trainer>(model, train);
      });
      parameter_count_ = trainer_->parameter_count();
      device_ = trainer_->device_name();
      Refresh();
      return 0;
    });
  }

  std::shared_ptr<asr::Trainer> trainer() const { return trainer_; }

  // Claims the trainer for one call; main thread only, so a plain flag is race-free.
  void Claim(Napi::Env env, const char* call) {
    if (busy_ != nullptr) {
      ThrowInvalid(env, std::string("this Trainer is busy with ") + busy_ + "(); await it before calling " + call +
                            "()");
    }
    busy_ = call;
  }
  void Release() {
    busy_ = nullptr;
    Refresh();
  }
  // While a job runs the trainer is not read from this thread; the getters show the last known values.
  void Observe(const asr::StepResult& step) {
    global_step_ = step.global_step;
    lr_ = step.lr;
  }

 private:
  void Refresh() {
    global_step_ = trainer_->global_step();
    lr_ = trainer_->current_lr();
  }

  Napi::Value Train(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  Napi::Value Transcribe(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);

  Napi::Value GlobalStep(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(global_step_));
  }
  Napi::Value ParameterCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(parameter_count_));
  }
  Napi::Value Device(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), device_); }
  Napi::Value Lr(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), lr_); }
  // Configs are fixed at construction, so reading them during a job is safe.
  Napi::Value GetModelConfig(const Napi::CallbackInfo& info) {
    return ModelConfigToJs(info.Env(), trainer_->model_config());
  }
  Napi::Value GetTrainConfig(const Napi::CallbackInfo& info) {
    return TrainConfigToJs(info.Env(), trainer_->train_config());
  }

  // Runs a job made by make() if the trainer is free; a busy trainer or bad arguments reject.
  template <typename Make>
  Napi::Value Launch(Napi::Env env, const char* call, Make&& make) {
    auto deferred_error = [&](const Napi::Error& e) {
      Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
      d.Reject(e.Value());
      return d.Promise();
    };
    try {
      Claim(env, call);
    } catch (const Napi::Error& e) {
      return deferred_error(e);
    }
    try {
      return make()->Start();
    } catch (const Napi::Error& e) {
      busy_ = nullptr;
      return deferred_error(e);
    }
  }

  std::shared_ptr<asr::Trainer> trainer_;
  const char* busy_ = nullptr;
  int64_t global_step_ = 0;
  double lr_ = 0;
  int64_t parameter_count_ = 0;
  std::string device_;
};

TrainerJob::TrainerJob(Napi::Env env, const char* name, TrainerWrap* owner)
    : AsyncJob(env, name),
      owner_(owner),
      trainer_(owner->trainer()),
      threads_(owner->trainer()->train_config().threads),
      owner_ref_(Napi::Persistent(owner->Value())) {}

void TrainerJob::Finish(Napi::Env) {
  if (!released_) owner_->Release();
  owner_ref_.Reset();
}

void TrainerJob::ReleaseEarly() {
  if (released_) return;
  released_ = true;
  owner_->Release();
}

// OpenMP keeps the thread count per OS thread, and libuv runs jobs on whichever pool thread is free, so
// every job sets it on its own thread before touching the model.
void UseThreads(int threads) { asr::set_threads(threads); }

class TrainJob : public TrainerJob {
 public:
  TrainJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<const asr::FeatureStore> store,
           std::vector<std::vector<int64_t>> batches)
      : TrainerJob(env, "asr.Trainer.train", owner), store_(std::move(store)), batches_(std::move(batches)) {}

  // The signal's 'abort' listener sets a flag the step loop reads at each step boundary.
  void WatchSignal(Napi::Env env, const Napi::Value& signal) {
    if (signal.IsUndefined()) return;
    Napi::Object s = ObjectArg(signal, "options.signal");
    if (!s.Get("addEventListener").IsFunction()) ThrowInvalid(env, "options.signal must be an AbortSignal");
    if (s.Get("aborted").ToBoolean().Value()) {
      abort_->store(true);
      return;
    }
    std::shared_ptr<std::atomic<bool>> flag = abort_;
    Napi::Function listener =
        Napi::Function::New(env, [flag](const Napi::CallbackInfo&) { flag->store(true); }, "onAbort");
    s.Get("addEventListener").As<Napi::Function>().Call(s, {Napi::String::New(env, "abort"), listener});
    signal_ = Napi::Persistent(s);
    listener_ = Napi::Persistent(listener);
  }

  void ReportSteps(Napi::Function on_step) {
    EnableProgress(on_step);
    reports_steps_ = true;
  }

 private:
  void Run() override {
    asr::run_on_compute_thread([&] { TrainSteps(); });
  }

  void TrainSteps() {
    UseThreads(threads_);
    asr::Prefetcher prefetcher(store_, batches_, 0);
    for (size_t i = 0; i < batches_.size(); ++i) {
      if (abort_->load() || CallbackFailed()) {
        cancelled_ = true;
        break;
      }
      std::optional<asr::Batch> batch = prefetcher.next();
      if (!batch) break;
      const asr::StepResult step = trainer_->train_step(*batch);
      steps_.push_back(step);
      if (reports_steps_) {
        TrainerWrap* owner = owner_;
        const auto index = static_cast<double>(i);
        Post([step, index, owner](Napi::Env env, Napi::Function on_step) {
          owner->Observe(step);
          Napi::Object o = StepResultToJs(env, step);
          o.Set("batch_index", index);
          on_step.Call({o});
        });
      }
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array steps = Napi::Array::New(env, steps_.size());
    for (size_t i = 0; i < steps_.size(); ++i) steps.Set(static_cast<uint32_t>(i), StepResultToJs(env, steps_[i]));
    Napi::Object o = Napi::Object::New(env);
    o.Set("steps", steps);
    o.Set("cancelled", cancelled_);
    return o;
  }

  void Finish(Napi::Env env) override {
    if (!signal_.IsEmpty()) {
      Napi::Object s = signal_.Value();
      s.Get("removeEventListener").As<Napi::Function>().Call(s, {Napi::String::New(env, "abort"), listener_.Value()});
      signal_.Reset();
      listener_.Reset();
    }
    TrainerJob::Finish(env);
  }

  std::shared_ptr<const asr::FeatureStore> store_;
  std::vector<std::vector<int64_t>> batches_;
  std::shared_ptr<std::atomic<bool>> abort_ = std::make_shared<std::atomic<bool>>(false);
  Napi::ObjectReference signal_;
  Napi::FunctionReference listener_;
  bool reports_steps_ = false;
  std::vector<asr::StepResult> steps_;
  bool cancelled_ = false;
};

class EvaluateJob : public TrainerJob {
 public:
  EvaluateJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<const asr::FeatureStore> store,
              std::vector<std::vector<int64_t>> batches)
      : TrainerJob(env, "asr.Trainer.evaluate", owner), store_(std::move(store)), batches_(std::move(batches)) {}

 private:
  void Run() override {
    asr::run_on_compute_thread([&] {
      UseThreads(threads_);
      std::vector<asr::Batch> batches;
      batches.reserve(batches_.size());
      for (const auto& indices : batches_) batches.push_back(asr::collate(*store_, indices));
      result_ = trainer_->evaluate(batches);
    });
  }
  Napi::Value Result(Napi::Env env) override { return EvalResultToJs(env, result_); }

  std::shared_ptr<const asr::FeatureStore> store_;
  std::vector<std::vector<int64_t>> batches_;
  asr::EvalResult result_;
};

class TranscribeJob : public TrainerJob {
 public:
  TranscribeJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<const asr::FeatureStore> store,
                std::vector<int64_t> indices)
      : TrainerJob(env, "asr.Trainer.transcribe", owner), store_(std::move(store)), indices_(std::move(indices)) {}

 private:
  void Run() override {
    asr::run_on_compute_thread([&] {
      UseThreads(threads_);
      texts_ = trainer_->transcribe(asr::collate(*store_, indices_));
    });
  }
  Napi::Value Result(Napi::Env env) override { return StringsToJs(env, texts_); }

  std::shared_ptr<const asr::FeatureStore> store_;
  std::vector<int64_t> indices_;
  std::vector<std::string> texts_;
};

// With an onSnapshot callback the trainer is busy only while its state is copied: the callback runs and
// the trainer takes the next call while this job still serialises and fsyncs the copy, off the training
// thread; the promise settles when the file is durable. Without one, the trainer stays busy throughout.
class SaveJob : public TrainerJob {
 public:
  SaveJob(Napi::Env env, TrainerWrap* owner, std::string path, asr::CheckpointMeta meta)
      : TrainerJob(env, "asr.Trainer.save", owner), path_(std::move(path)), meta_(std::move(meta)) {}

  void ReportSnapshot(Napi::Function on_snapshot) {
    EnableProgress(on_snapshot);
    reports_snapshot_ = true;
  }

 private:
  void Run() override {
    // The copy on the compute thread, between steps; serialising and fsyncing here, on this pool thread.
    asr::CheckpointSnapshot snapshot;
    asr::run_on_compute_thread([&] { snapshot = trainer_->snapshot(meta_); });
    if (reports_snapshot_) {
      Post([this](Napi::Env, Napi::Function on_snapshot) {
        ReleaseEarly();
        on_snapshot.Call({});
      });
    }
    asr::write_checkpoint(path_, snapshot);
  }

  bool reports_snapshot_ = false;

  std::string path_;
  asr::CheckpointMeta meta_;
};

class LoadJob : public TrainerJob {
 public:
  LoadJob(Napi::Env env, TrainerWrap* owner, std::string path)
      : TrainerJob(env, "asr.Trainer.load", owner), path_(std::move(path)) {}

 private:
  void Run() override {
    asr::run_on_compute_thread([&] {
      UseThreads(threads_);
      meta_ = trainer_->load_checkpoint(path_);
    });
  }
  Napi::Value Result(Napi::Env env) override { return CheckpointMetaToJs(env, meta_); }

  std::string path_;
  asr::CheckpointMeta meta_;
};

Napi::Value TrainerWrap::Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Launch(env, "train", [&] {
    std::shared_ptr<const asr::FeatureStore> store = FeatureStoreWrap::From(info[0], "store");
    auto batches = BatchesArg(info[1], store->size(), "batches");
    Napi::Object options = info[2].IsUndefined() ? Napi::Object::New(env) : ObjectArg(info[2], "options");
    CheckKeys(options, {"signal", "onStep"}, "train options");
    Napi::Value on_step = options.Get("onStep");
    if (!on_step.IsUndefined() && !on_step.IsFunction()) ThrowInvalid(env, "options.onStep must be a function");
    std::unique_ptr<TrainJob> job(new TrainJob(env, this, store, std::move(batches)));
    job->WatchSignal(env, options.Get("signal"));
    if (on_step.IsFunction()) job->ReportSteps(on_step.As<Napi::Function>());
    return job.release();
  });
}

Napi::Value TrainerWrap::Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Launch(env, "evaluate", [&] {
    std::shared_ptr<const asr::FeatureStore> store = FeatureStoreWrap::From(info[0], "store");
    auto batches = BatchesArg(info[1], store->size(), "batches");
    return new EvaluateJob(env, this, store, std::move(batches));
  });
}

Napi::Value TrainerWrap::Transcribe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Launch(env, "transcribe", [&] {
    std::shared_ptr<const asr::FeatureStore> store = FeatureStoreWrap::From(info[0], "store");
    Napi::Array wrapped = Napi::Array::New(env, 1);
    wrapped.Set(0u, info[1]);
    auto indices = BatchesArg(wrapped, store->size(), "indices");
    return new TranscribeJob(env, this, store, std::move(indices[0]));
  });
}

Napi::Value TrainerWrap::Save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Launch(env, "save", [&] {
    std::string path = StringArg(info[0], "path");
    asr::CheckpointMeta meta = CheckpointMetaFromJs(info[1]);
    Napi::Object options = info[2].IsUndefined() ? Napi::Object::New(env) : ObjectArg(info[2], "save options");
    CheckKeys(options, {"onSnapshot"}, "save options");
    Napi::Value on_snapshot = options.Get("onSnapshot");
    if (!on_snapshot.IsUndefined() && !on_snapshot.IsFunction()) {
      ThrowInvalid(env, "options.onSnapshot must be a function");
    }
    std::unique_ptr<SaveJob> job(new SaveJob(env, this, std::move(path), std::move(meta)));
    if (on_snapshot.IsFunction()) job->ReportSnapshot(on_snapshot.As<Napi::Function>());
    return job.release();
  });
}

Napi::Value TrainerWrap::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Launch(env, "load", [&] { return new LoadJob(env, this, StringArg(info[0], "path")); });
}

}  // namespace

Napi::Function DefineTrainer(Napi::Env env) { return TrainerWrap::Define(env); }

}  // namespace asr_addon
