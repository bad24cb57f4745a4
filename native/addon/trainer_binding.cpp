// TrainerWrap: argument parsing for each method, the busy flag, and the values the getters answer from.
#include <chrono>
#include <utility>

#include "asr/beam_search.h"
#include "asr/train_loop.h"
#include "asr/trainer.h"
#include "trainer_binding.h"
#include "world_binding.h"

namespace asr_addon {

Napi::Function TrainerWrap::Define(Napi::Env env) {
  return DefineClass(env, "Trainer",
                     {
                         InstanceMethod<&TrainerWrap::Train>("train"),
                         InstanceMethod<&TrainerWrap::Evaluate>("evaluate"),
                         InstanceMethod<&TrainerWrap::Transcribe>("transcribe"),
                         InstanceMethod<&TrainerWrap::Save>("save"),
                         InstanceMethod<&TrainerWrap::Load>("load"),
                         InstanceMethod<&TrainerWrap::AttachWorld>("attachWorld"),
                         InstanceAccessor<&TrainerWrap::Ready>("ready"),
                         InstanceAccessor<&TrainerWrap::GlobalStep>("globalStep"),
                         InstanceAccessor<&TrainerWrap::ParameterCount>("parameterCount"),
                         InstanceAccessor<&TrainerWrap::Device>("device"),
                         InstanceAccessor<&TrainerWrap::Lr>("lr"),
                         InstanceAccessor<&TrainerWrap::EmaWeights>("emaWeights"),
                         InstanceAccessor<&TrainerWrap::GetModelConfig>("modelConfig"),
                         InstanceAccessor<&TrainerWrap::GetTrainConfig>("trainConfig"),
                     });
}

TrainerWrap::TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
  Napi::Env env = info.Env();
  if (!info.IsConstructCall()) ThrowInvalid(env, "Trainer is a class: use new Trainer(model, train)");
  model_ = ModelConfigFromJs(info[0]);
  train_ = TrainConfigFromJs(info[1]);
  // Everything a bad config or a missing GPU would fail is checked here, so `new` still throws for them;
  // only the build (weight initialisation, on the compute thread) is left to fail later.
  Guarded(env, [&] {
    device_ = asr::check_trainer_config(model_, train_).str();
    parameter_count_ = asr::parameter_count(model_);
    lr_ = asr::noam_lr(train_.learning_rate, train_.warmup_steps, 1);
    return 0;
  });
  pending_ = Guarded(env, [&] { return asr::build_trainer(model_, train_); });
  NewBuildJob(env, this, info.This().As<Napi::Object>())->Start();
}

void TrainerWrap::Claim(Napi::Env env, const char* call) {
  if (busy_ != nullptr) {
    ThrowInvalid(env, std::string("this Trainer is busy with ") + busy_ + "(); await it before calling " + call + "()");
  }
  busy_ = call;
}

void TrainerWrap::Release() {
  busy_ = nullptr;
  Refresh();
}

void TrainerWrap::Observe(const asr::StepResult& step) {
  global_step_ = step.global_step;
  lr_ = step.lr;
}

void TrainerWrap::Built(Napi::Env env, std::optional<Failure> failure) {
  built_ = true;
  build_failure_ = std::move(failure);
  for (auto& waiter : ready_waiters_) {
    if (build_failure_) {
      waiter.Reject(MakeError(env, build_failure_->code, build_failure_->message));
    } else {
      waiter.Resolve(env.Undefined());
    }
  }
  ready_waiters_.clear();
}

std::shared_ptr<asr::Trainer> TrainerWrap::BuiltTrainer() const {
  if (pending_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return nullptr;
  try {
    return pending_.get();
  } catch (...) {
    return nullptr;
  }
}

void TrainerWrap::Refresh() {
  if (std::shared_ptr<asr::Trainer> trainer = BuiltTrainer()) {
    global_step_ = trainer->global_step();
    lr_ = trainer->current_lr();
    ema_weights_ = trainer->has_ema_weights();
  }
}

// A promise per read, made only when asked for, so that a failed build nobody awaits is no unhandled
// rejection.
Napi::Value TrainerWrap::Ready(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  if (!built_) {
    ready_waiters_.push_back(deferred);
  } else if (build_failure_) {
    deferred.Reject(MakeError(env, build_failure_->code, build_failure_->message));
  } else {
    deferred.Resolve(env.Undefined());
  }
  return deferred.Promise();
}

Napi::Value TrainerWrap::GlobalStep(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(global_step_));
}
Napi::Value TrainerWrap::ParameterCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(parameter_count_));
}
Napi::Value TrainerWrap::Device(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), device_); }
Napi::Value TrainerWrap::Lr(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), lr_); }
Napi::Value TrainerWrap::EmaWeights(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ema_weights_);
}
Napi::Value TrainerWrap::GetModelConfig(const Napi::CallbackInfo& info) { return ModelConfigToJs(info.Env(), model_); }
Napi::Value TrainerWrap::GetTrainConfig(const Napi::CallbackInfo& info) { return TrainConfigToJs(info.Env(), train_); }

template <typename Make>
Napi::Value TrainerWrap::Launch(Napi::Env env, const char* call, Make&& make) {
  auto rejected = [&](const Napi::Error& e) {
    Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
    d.Reject(e.Value());
    return d.Promise();
  };
  try {
    Claim(env, call);
  } catch (const Napi::Error& e) {
    return rejected(e);
  }
  try {
    return make()->Start();
  } catch (const Napi::Error& e) {
    busy_ = nullptr;
    return rejected(e);
  }
}

namespace {

Napi::Object OptionsArg(Napi::Env env, const Napi::Value& value, const std::string& what) {
  return value.IsUndefined() ? Napi::Object::New(env) : ObjectArg(value, what);
}

// options.beam and options.weights of evaluate and transcribe, checked here so that a bad value rejects
// before any work is queued.
asr::EvalOptions DecodingArg(Napi::Env env, const Napi::Object& options, const std::string& what) {
  CheckKeys(options, {"beam", "weights"}, what);
  asr::EvalOptions decoding;  // beam_width 0: greedy decoding
  if (!options.Get("beam").IsUndefined()) {
    decoding.beam_width = IntArg(options.Get("beam"), "options.beam");
    if (decoding.beam_width < 1 || decoding.beam_width > asr::kMaxBeamWidth) {
      ThrowInvalid(env, "options.beam must be a beam width from 1 to " + std::to_string(asr::kMaxBeamWidth) +
                            " (leave it out for greedy decoding), got " + std::to_string(decoding.beam_width));
    }
  }
  const std::string weights = StringField(options, "weights", "raw", what);
  if (weights != "raw" && weights != "ema") {
    ThrowInvalid(env, "options.weights must be \"raw\" or \"ema\" (the moving average), got \"" + weights + "\"");
  }
  decoding.weights = weights == "ema" ? asr::Weights::kEma : asr::Weights::kRaw;
  return decoding;
}

}  // namespace

Napi::Value TrainerWrap::Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Launch(env, "train", [&] {
    std::shared_ptr<const asr::FeatureStore> store = FeatureStoreWrap::From(info[0], "store");
    auto batches = BatchesArg(info[1], store->size(), "batches");
    Napi::Object options = OptionsArg(env, info[2], "options");
    CheckKeys(options, {"signal", "onStep"}, "train options");
    return NewTrainJob(env, this, store, std::move(batches), options.Get("signal"), options.Get("onStep"));
  });
}

Napi::Value TrainerWrap::Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Launch(env, "evaluate", [&] {
    std::shared_ptr<const asr::FeatureStore> store = FeatureStoreWrap::From(info[0], "store");
    auto batches = BatchesArg(info[1], store->size(), "batches");
    asr::EvalOptions options = DecodingArg(env, OptionsArg(env, info[2], "evaluate options"), "evaluate options");
    return NewEvaluateJob(env, this, store, std::move(batches), options);
  });
}

Napi::Value TrainerWrap::Transcribe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Launch(env, "transcribe", [&] {
    std::shared_ptr<const asr::FeatureStore> store = FeatureStoreWrap::From(info[0], "store");
    Napi::Array wrapped = Napi::Array::New(env, 1);
    wrapped.Set(0u, info[1]);
    auto indices = BatchesArg(wrapped, store->size(), "indices");
    const asr::EvalOptions decoding =
        DecodingArg(env, OptionsArg(env, info[2], "transcribe options"), "transcribe options");
    return NewTranscribeJob(env, this, store, std::move(indices[0]), decoding.beam_width, decoding.weights);
  });
}

Napi::Value TrainerWrap::Save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Launch(env, "save", [&] {
    std::string path = StringArg(info[0], "path");
    asr::CheckpointMeta meta = CheckpointMetaFromJs(info[1]);
    Napi::Object options = OptionsArg(env, info[2], "save options");
    CheckKeys(options, {"onSnapshot"}, "save options");
    return NewSaveJob(env, this, std::move(path), std::move(meta), options.Get("onSnapshot"));
  });
}

Napi::Value TrainerWrap::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Launch(env, "load", [&] { return NewLoadJob(env, this, StringArg(info[0], "path")); });
}

Napi::Value TrainerWrap::AttachWorld(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Launch(env, "attachWorld",
                [&] { return NewAttachWorldJob(env, this, WorldCollectivesArg(info[0], "attachWorld(world)")); });
}

Napi::Function DefineTrainer(Napi::Env env) { return TrainerWrap::Define(env); }

}  // namespace asr_addon
