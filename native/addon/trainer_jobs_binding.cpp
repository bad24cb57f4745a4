// The Trainer's jobs: build, train, evaluate, transcribe, save, load, attachWorld. Each waits for the build on its
// worker thread and runs the trainer's work on the compute thread (asr/train_loop.h, asr/compute_thread.h).
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "asr/beam_search.h"
#include "asr/compute_thread.h"
#include "asr/train_loop.h"
#include "trainer_binding.h"

namespace asr_addon {

TrainerJob::TrainerJob(Napi::Env env, const char* name, TrainerWrap* owner)
    : AsyncJob(env, name), owner_(owner), pending_(owner->pending()), owner_ref_(Napi::Persistent(owner->Value())) {}

void TrainerJob::Finish(Napi::Env) {
  if (!released_) owner_->Release();
  owner_ref_.Reset();
}

void TrainerJob::ReleaseEarly() {
  if (released_) return;
  released_ = true;
  owner_->Release();
}

namespace {

// Its error goes to `ready` (and to every call, through the pending trainer), not to this job's promise,
// which nobody holds.
class BuildJob : public AsyncJob {
 public:
  BuildJob(Napi::Env env, TrainerWrap* owner, Napi::Object self)
      : AsyncJob(env, "asr.Trainer.build"),
        owner_(owner),
        owner_ref_(Napi::Persistent(self)),
        pending_(owner->pending()) {}

 private:
  void Run() override {
    try {
      pending_.get();
    } catch (...) {
      failure_ = Describe(std::current_exception());
    }
  }
  void Finish(Napi::Env env) override {
    owner_->Built(env, failure_);
    owner_ref_.Reset();
  }

  TrainerWrap* owner_;
  Napi::ObjectReference owner_ref_;
  PendingTrainer pending_;
  std::optional<Failure> failure_;
};

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
    Napi::Function listener = Napi::Function::New(
        env, [flag](const Napi::CallbackInfo&) { flag->store(true); }, "onAbort");
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
    std::shared_ptr<asr::Trainer> trainer = Await();
    TrainerWrap* owner = owner_;
    auto report = [this, owner](size_t index, const asr::StepResult& step) {
      Post([step, index, owner](Napi::Env env, Napi::Function on_step) {
        owner->Observe(step);
        Napi::Object o = StepResultToJs(env, step);
        o.Set("batch_index", static_cast<double>(index));
        on_step.Call({o});
      });
    };
    asr::TrainBatchesResult result = asr::train_batches(
        *trainer, store_, std::move(batches_), [this] { return abort_->load() || CallbackFailed(); },
        reports_steps_ ? std::function<void(size_t, const asr::StepResult&)>(report) : nullptr);
    steps_ = std::move(result.steps);
    cancelled_ = result.cancelled;
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
              std::vector<std::vector<int64_t>> batches, asr::EvalOptions options)
      : TrainerJob(env, "asr.Trainer.evaluate", owner),
        store_(std::move(store)),
        batches_(std::move(batches)),
        options_(options) {}

 private:
  void Run() override { result_ = asr::evaluate_batches(*Await(), *store_, batches_, options_); }
  Napi::Value Result(Napi::Env env) override { return EvalResultToJs(env, result_); }

  std::shared_ptr<const asr::FeatureStore> store_;
  std::vector<std::vector<int64_t>> batches_;
  asr::EvalOptions options_;
  asr::EvalResult result_;
};

class TranscribeJob : public TrainerJob {
 public:
  TranscribeJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<const asr::FeatureStore> store,
                std::vector<int64_t> indices, int64_t beam_width, asr::Weights weights)
      : TrainerJob(env, "asr.Trainer.transcribe", owner),
        store_(std::move(store)),
        indices_(std::move(indices)),
        beam_width_(beam_width),
        weights_(weights) {}

 private:
  void Run() override {
    std::shared_ptr<asr::Trainer> trainer = Await();
    asr::run_for_trainer(*trainer, [&] {
      trainer->with_weights(weights_, [&] {
        const asr::Batch batch = asr::collate(*store_, indices_);
        texts_ = beam_width_ == 0 ? trainer->transcribe(batch) : asr::transcribe_beam(*trainer, batch, beam_width_);
      });
    });
  }
  Napi::Value Result(Napi::Env env) override { return StringsToJs(env, texts_); }

  std::shared_ptr<const asr::FeatureStore> store_;
  std::vector<int64_t> indices_;
  int64_t beam_width_;
  asr::Weights weights_;
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
    std::shared_ptr<asr::Trainer> trainer = Await();
    // The copy on the compute thread, between steps; serialising and fsyncing here, on this pool thread.
    asr::CheckpointSnapshot snapshot;
    asr::run_on_compute_thread([&] { snapshot = trainer->snapshot(meta_); });
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
    std::shared_ptr<asr::Trainer> trainer = Await();
    asr::run_for_trainer(*trainer, [&] { meta_ = trainer->load_checkpoint(path_); });
  }
  Napi::Value Result(Napi::Env env) override { return CheckpointMetaToJs(env, meta_); }

  std::string path_;
  asr::CheckpointMeta meta_;
};

// The broadcasts of attach_world are collectives: on the compute thread, in order with the trainer's steps.
class AttachWorldJob : public TrainerJob {
 public:
  AttachWorldJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<asr::Collectives> world)
      : TrainerJob(env, "asr.Trainer.attachWorld", owner), world_(std::move(world)) {}

 private:
  void Run() override {
    std::shared_ptr<asr::Trainer> trainer = Await();
    asr::run_for_trainer(*trainer, [&] { trainer->attach_world(world_); });
  }

  std::shared_ptr<asr::Collectives> world_;
};

Napi::Function CallbackArg(Napi::Env env, const Napi::Value& value, const char* what) {
  if (!value.IsFunction()) ThrowInvalid(env, std::string(what) + " must be a function");
  return value.As<Napi::Function>();
}

}  // namespace

AsyncJob* NewBuildJob(Napi::Env env, TrainerWrap* owner, Napi::Object self) { return new BuildJob(env, owner, self); }

AsyncJob* NewTrainJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<const asr::FeatureStore> store,
                      std::vector<std::vector<int64_t>> batches, const Napi::Value& signal,
                      const Napi::Value& on_step) {
  Napi::Function callback;
  if (!on_step.IsUndefined()) callback = CallbackArg(env, on_step, "options.onStep");
  std::unique_ptr<TrainJob> job(new TrainJob(env, owner, std::move(store), std::move(batches)));
  job->WatchSignal(env, signal);
  // Last: from here the progress function owns the job.
  if (!callback.IsEmpty()) job->ReportSteps(callback);
  return job.release();
}

AsyncJob* NewEvaluateJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<const asr::FeatureStore> store,
                         std::vector<std::vector<int64_t>> batches, asr::EvalOptions options) {
  return new EvaluateJob(env, owner, std::move(store), std::move(batches), options);
}

AsyncJob* NewTranscribeJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<const asr::FeatureStore> store,
                           std::vector<int64_t> indices, int64_t beam_width, asr::Weights weights) {
  return new TranscribeJob(env, owner, std::move(store), std::move(indices), beam_width, weights);
}

AsyncJob* NewSaveJob(Napi::Env env, TrainerWrap* owner, std::string path, asr::CheckpointMeta meta,
                     const Napi::Value& on_snapshot) {
  Napi::Function callback;
  if (!on_snapshot.IsUndefined()) callback = CallbackArg(env, on_snapshot, "options.onSnapshot");
  auto* job = new SaveJob(env, owner, std::move(path), std::move(meta));
  if (!callback.IsEmpty()) job->ReportSnapshot(callback);
  return job;
}

AsyncJob* NewLoadJob(Napi::Env env, TrainerWrap* owner, std::string path) {
  return new LoadJob(env, owner, std::move(path));
}

AsyncJob* NewAttachWorldJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<asr::Collectives> world) {
  return new AttachWorldJob(env, owner, std::move(world));
}

}  // namespace asr_addon
