#pragma once
// Trainer: a JS handle on one asr::Trainer. `new Trainer()` checks the configs at once and queues the build
// on the compute thread (which may be busy with another trainer's whole train() call), so the constructor
// never waits; every later call's job waits for the build on its worker thread, and a failed build rejects
// that call (and `ready`) with the build's error. Calls are serialised: one at a time, a second one rejects
// with E_INVALID_ARGUMENT rather than racing.
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "binding.h"

namespace asr_addon {

using PendingTrainer = std::shared_future<std::shared_ptr<asr::Trainer>>;

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit TrainerWrap(const Napi::CallbackInfo& info);

  PendingTrainer pending() const { return pending_; }
  // Claims the trainer for one call; main thread only, so a plain flag is race-free.
  void Claim(Napi::Env env, const char* call);
  void Release();
  // While a job runs the trainer is not read from this thread; the getters show the last known values.
  void Observe(const asr::StepResult& step);
  // Main thread, once the build has finished (failure: its error, or none).
  void Built(Napi::Env env, std::optional<Failure> failure);

 private:
  std::shared_ptr<asr::Trainer> BuiltTrainer() const;  // null while building or after a failed build
  void Refresh();

  Napi::Value Train(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  Napi::Value Transcribe(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value AttachWorld(const Napi::CallbackInfo& info);
  Napi::Value Ready(const Napi::CallbackInfo& info);
  Napi::Value GlobalStep(const Napi::CallbackInfo& info);
  Napi::Value ParameterCount(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Lr(const Napi::CallbackInfo& info);
  Napi::Value EmaWeights(const Napi::CallbackInfo& info);
  Napi::Value GetModelConfig(const Napi::CallbackInfo& info);
  Napi::Value GetTrainConfig(const Napi::CallbackInfo& info);

  // Runs the job make() returns if the trainer is free; a busy trainer or bad arguments reject.
  template <typename Make>
  Napi::Value Launch(Napi::Env env, const char* call, Make&& make);

  asr::ModelConfig model_;
  asr::TrainConfig train_;
  PendingTrainer pending_;
  bool built_ = false;
  std::optional<Failure> build_failure_;
  std::vector<Napi::Promise::Deferred> ready_waiters_;
  const char* busy_ = nullptr;
  int64_t global_step_ = 0;
  double lr_ = 0;
  bool ema_weights_ = false;
  int64_t parameter_count_ = 0;
  std::string device_;
};

// What a job needs from its owner: the trainer once built, a way to keep the JS object alive, the busy flag.
class TrainerJob : public AsyncJob {
 protected:
  TrainerJob(Napi::Env env, const char* name, TrainerWrap* owner);
  void Finish(Napi::Env env) override;
  // Worker thread: the trainer, waiting for its build if need be (a failed build throws its error here).
  std::shared_ptr<asr::Trainer> Await() { return pending_.get(); }
  // Main thread: frees the trainer for the next call before this job settles (once; Finish then skips it).
  void ReleaseEarly();

  TrainerWrap* owner_;

 private:
  PendingTrainer pending_;
  Napi::ObjectReference owner_ref_;
  bool released_ = false;
};

// The jobs behind the methods (trainer_jobs_binding.cpp); each is made on the main thread from parsed arguments.
// Waits for the build (queued by the constructor) and tells the owner, for `ready`.
AsyncJob* NewBuildJob(Napi::Env env, TrainerWrap* owner, Napi::Object self);
AsyncJob* NewTrainJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<const asr::FeatureStore> store,
                      std::vector<std::vector<int64_t>> batches, const Napi::Value& signal, const Napi::Value& on_step);
AsyncJob* NewEvaluateJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<const asr::FeatureStore> store,
                         std::vector<std::vector<int64_t>> batches, asr::EvalOptions options);
// beam_width 0: greedy decoding; 1..asr::kMaxBeamWidth: CTC prefix beam search of that width.
AsyncJob* NewTranscribeJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<const asr::FeatureStore> store,
                           std::vector<int64_t> indices, int64_t beam_width, asr::Weights weights);
AsyncJob* NewSaveJob(Napi::Env env, TrainerWrap* owner, std::string path, asr::CheckpointMeta meta,
                     const Napi::Value& on_snapshot);
AsyncJob* NewLoadJob(Napi::Env env, TrainerWrap* owner, std::string path);
AsyncJob* NewAttachWorldJob(Napi::Env env, TrainerWrap* owner, std::shared_ptr<asr::Collectives> world);

}  // namespace asr_addon
