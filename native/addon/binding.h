#pragma once
// Shared pieces of the binding: the per-env addon data, error conversion (errors_binding.cpp), argument
// parsing (arguments_binding.cpp), JS <-> struct conversion (conversions_binding.cpp) and the promise-returning
// async job every slow call is built on (async_job_binding.cpp).
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "asr/checkpoint.h"
#include "asr/dataset.h"
#include "asr/distributed/world.h"
#include "asr/features.h"
#include "asr/model.h"
#include "asr/trainer.h"

namespace asr_addon {

struct AddonData {
  Napi::FunctionReference error_class;  // AsrTrainerError, handed over by src/native.ts (setErrorClass)
  Napi::FunctionReference feature_store;
  Napi::FunctionReference trainer;
  Napi::FunctionReference world;  // World (world_binding.cpp), in a build with the distributed layer
};
AddonData& Data(Napi::Env env);

// ---- errors ---------------------------------------------------------------------------------------

// A failure captured where no JS may run (a worker thread), turned into a JS error later.
struct Failure {
  std::string code;
  std::string message;
};
// asr::Error keeps its code; c10::Error, bad_alloc and anything else become E_INTERNAL.
Failure Describe(std::exception_ptr error);

// new AsrTrainerError(code, message) once the class is known; a plain Error with `.code` before that.
Napi::Value MakeError(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void Throw(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void ThrowInvalid(Napi::Env env, const std::string& message);

// Runs f on the main thread; any C++ exception leaves as a thrown AsrTrainerError, never a crash.
template <typename F>
auto Guarded(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    const Failure failure = Describe(std::current_exception());
    Throw(env, failure.code, failure.message);
  }
}

// ---- argument parsing (main thread; E_INVALID_ARGUMENT naming the field) -----------------------------

// Rejects fields the struct does not have, so a misspelt option is an error rather than a silent default.
void CheckKeys(const Napi::Object& object, const std::vector<const char*>& known, const std::string& what);
Napi::Object ObjectArg(const Napi::Value& value, const std::string& what);
int64_t IntArg(const Napi::Value& value, const std::string& what);
std::string StringArg(const Napi::Value& value, const std::string& what);
int64_t IntField(const Napi::Object& o, const char* key, int64_t fallback, const std::string& what);
double NumberField(const Napi::Object& o, const char* key, double fallback, const std::string& what);
bool BoolField(const Napi::Object& o, const char* key, bool fallback, const std::string& what);
std::string StringField(const Napi::Object& o, const char* key, const std::string& fallback, const std::string& what);
std::vector<float> FloatArrayArg(const Napi::Value& value, const std::string& what);
// Batches of indices into a store of `size` utterances; each batch non-empty, each index in range.
std::vector<std::vector<int64_t>> BatchesArg(const Napi::Value& value, int64_t size, const std::string& what);

// ---- struct conversion -----------------------------------------------------------------------------

asr::ModelConfig ModelConfigFromJs(const Napi::Value& value);
Napi::Object ModelConfigToJs(Napi::Env env, const asr::ModelConfig& config);
Napi::Array ModelConfigProblemsToJs(Napi::Env env, const std::vector<asr::ModelConfigProblem>& problems);
asr::TrainConfig TrainConfigFromJs(const Napi::Value& value);
Napi::Object TrainConfigToJs(Napi::Env env, const asr::TrainConfig& config);
asr::FbankOptions FbankOptionsFromJs(const Napi::Value& value);
Napi::Object StepResultToJs(Napi::Env env, const asr::StepResult& step);
Napi::Object EvalResultToJs(Napi::Env env, const asr::EvalResult& eval);
asr::CheckpointMeta CheckpointMetaFromJs(const Napi::Value& value);
// E_CHECKPOINT_CORRUPT when the stored config/metrics text is not a JSON object.
Napi::Object CheckpointMetaToJs(Napi::Env env, const asr::CheckpointMeta& meta);
Napi::Array StringsToJs(Napi::Env env, const std::vector<std::string>& strings);
// joinWorld's options (WorldOptions in src/native/types.ts); checked for consistency by the rendezvous.
struct WorldRequest {
  asr::distributed::WorldInfo world;
  std::string backend = "auto";
  double timeout_s = 60;
  std::string device = "auto";
};
WorldRequest WorldRequestFromJs(const Napi::Value& value);

// ---- async jobs ------------------------------------------------------------------------------------

// One slow call: arguments are parsed into the job's plain C++ members on the main thread (the
// "baton"), Run() touches only those on a worker thread, Result() builds the JS value on the main
// thread. The returned promise rejects with an AsrTrainerError for any exception Run() throws.
// With progress enabled, Post()ed events reach the JS callback through one thread-safe function, and
// the promise settles only after the last of them ran.
class AsyncJob : public Napi::AsyncWorker {
 public:
  Napi::Promise Start();  // queues the job; main thread

 protected:
  AsyncJob(Napi::Env env, const char* name);

  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }
  // Main thread, right before the promise settles (after the last progress event): release owners,
  // listeners, busy flags.
  virtual void Finish(Napi::Env) {}

  using Event = std::function<void(Napi::Env, Napi::Function)>;
  void EnableProgress(Napi::Function callback);  // main thread, before Start()
  void Post(Event event);                        // worker thread
  // The progress callback threw: the job should stop; the promise rejects with that error.
  bool CallbackFailed() const { return callback_failed_.load(); }

 private:
  void Execute() final;
  void OnOK() final;
  void OnError(const Napi::Error& error) final;
  void Complete(Napi::Env env);
  void Settle(Napi::Env env);

  const char* name_;
  Napi::Promise::Deferred deferred_;
  bool failed_ = false;
  Failure failure_;
  bool progress_ = false;
  Napi::ThreadSafeFunction tsfn_;
  std::atomic<bool> callback_failed_{false};
  Napi::Reference<Napi::Value> callback_error_;
};

// ---- classes ---------------------------------------------------------------------------------------

class FeatureStoreWrap : public Napi::ObjectWrap<FeatureStoreWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<const asr::FeatureStore> store);
  // The store behind a JS FeatureStore argument (E_INVALID_ARGUMENT for anything else).
  static std::shared_ptr<const asr::FeatureStore> From(const Napi::Value& value, const std::string& what);

  explicit FeatureStoreWrap(const Napi::CallbackInfo& info);

 private:
  static Napi::Value Open(const Napi::CallbackInfo& info);
  static Napi::Value FromAudio(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Utterances(const Napi::CallbackInfo& info);
  Napi::Value SpeedFactors(const Napi::CallbackInfo& info);
  Napi::Value Computed(const Napi::CallbackInfo& info);
  Napi::Value Cached(const Napi::CallbackInfo& info);
  Napi::Value Skipped(const Napi::CallbackInfo& info);
  Napi::Value CachePath(const Napi::CallbackInfo& info);
  Napi::Value TotalFrames(const Napi::CallbackInfo& info);
  Napi::Value Frames(const Napi::CallbackInfo& info);
  Napi::Value Id(const Napi::CallbackInfo& info);
  Napi::Value Text(const Napi::CallbackInfo& info);
  Napi::Value Ids(const Napi::CallbackInfo& info);
  Napi::Value PlanEpoch(const Napi::CallbackInfo& info);
  int64_t IndexArg(const Napi::CallbackInfo& info) const;

  std::shared_ptr<const asr::FeatureStore> store_;
};

Napi::Function DefineTrainer(Napi::Env env);
// exports.modelPreset, modelPresets, modelConfigProblems (model_binding.cpp).
void RegisterModel(Napi::Env env, Napi::Object exports);
// exports.averageCheckpoints (checkpoint_average_binding.cpp).
void RegisterCheckpointAverage(Napi::Env env, Napi::Object exports);

}  // namespace asr_addon
