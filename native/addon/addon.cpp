// The module: error conversion, argument parsing, struct conversion, the async job base, and the
// free functions (versions, setThreads, modelPreset, fbank, readAudio, checkpoint metadata).
#include <ATen/Config.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <cstring>
#include <new>
#include <sstream>
#include <utility>

#include "asr/audio.h"
#include "asr/compute_thread.h"
#include "asr/errors.h"
#include "binding.h"
#include "file_lock_binding.h"

namespace asr_addon {

AddonData& Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

// ---- errors ---------------------------------------------------------------------------------------

Failure Describe(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const asr::Error& e) {
    return {e.code(), e.what()};
  } catch (const c10::Error& e) {
    return {asr::codes::kInternal, std::string("LibTorch: ") + e.what_without_backtrace()};
  } catch (const std::bad_alloc&) {
    return {asr::codes::kInternal, "out of memory"};
  } catch (const std::exception& e) {
    return {asr::codes::kInternal, e.what()};
  } catch (...) {
    return {asr::codes::kInternal, "an unknown native exception"};
  }
}

Napi::Value MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::FunctionReference& cls = Data(env).error_class;
  if (!cls.IsEmpty()) {
    return cls.New({Napi::String::New(env, code), Napi::String::New(env, message)});
  }
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error.Value();
}

void Throw(Napi::Env env, const std::string& code, const std::string& message) {
  throw Napi::Error(env, MakeError(env, code, message));
}

void ThrowInvalid(Napi::Env env, const std::string& message) { Throw(env, asr::codes::kInvalidArgument, message); }

// ---- argument parsing -----------------------------------------------------------------------------

namespace {

std::string Describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsString()) return "'" + value.As<Napi::String>().Utf8Value() + "'";
  if (value.IsNumber() || value.IsBoolean()) return value.ToString().Utf8Value();
  if (value.IsArray()) return "an array";
  if (value.IsFunction()) return "a function";
  return "an object";
}

bool IsInteger(double d) { return std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 9007199254740991.0; }

}  // namespace

void CheckKeys(const Napi::Object& object, const std::vector<const char*>& known, const std::string& what) {
  Napi::Array names = object.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    const std::string name = names.Get(i).ToString().Utf8Value();
    bool found = false;
    for (const char* k : known) found = found || name == k;
    if (found) continue;
    std::string list;
    for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    ThrowInvalid(object.Env(), "unknown field '" + name + "' in " + what + " (known: " + list + ")");
  }
}

Napi::Object ObjectArg(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject() || value.IsArray() || value.IsFunction()) {
    ThrowInvalid(value.Env(), what + " must be an object (got " + Describe(value) + ")");
  }
  return value.As<Napi::Object>();
}

int64_t IntArg(const Napi::Value& value, const std::string& what) {
  if (!value.IsNumber() || !IsInteger(value.As<Napi::Number>().DoubleValue())) {
    ThrowInvalid(value.Env(), what + " must be an integer (got " + Describe(value) + ")");
  }
  return value.As<Napi::Number>().Int64Value();
}

std::string StringArg(const Napi::Value& value, const std::string& what) {
  if (!value.IsString()) ThrowInvalid(value.Env(), what + " must be a string (got " + Describe(value) + ")");
  return value.As<Napi::String>().Utf8Value();
}

int64_t IntField(const Napi::Object& o, const char* key, int64_t fallback, const std::string& what) {
  Napi::Value v = o.Get(key);
  return v.IsUndefined() ? fallback : IntArg(v, what + "." + key);
}

double NumberField(const Napi::Object& o, const char* key, double fallback, const std::string& what) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) {
    ThrowInvalid(o.Env(), what + "." + key + " must be a finite number (got " + Describe(v) + ")");
  }
  return v.As<Napi::Number>().DoubleValue();
}

bool BoolField(const Napi::Object& o, const char* key, bool fallback, const std::string& what) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) ThrowInvalid(o.Env(), what + "." + key + " must be a boolean (got " + Describe(v) + ")");
  return v.As<Napi::Boolean>().Value();
}

std::string StringField(const Napi::Object& o, const char* key, const std::string& fallback, const std::string& what) {
  Napi::Value v = o.Get(key);
  return v.IsUndefined() ? fallback : StringArg(v, what + "." + key);
}

std::vector<float> FloatArrayArg(const Napi::Value& value, const std::string& what) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    ThrowInvalid(value.Env(), what + " must be a Float32Array (got " + Describe(value) + ")");
  }
  Napi::Float32Array array = value.As<Napi::Float32Array>();
  return std::vector<float>(array.Data(), array.Data() + array.ElementLength());
}

std::vector<std::vector<int64_t>> BatchesArg(const Napi::Value& value, int64_t size, const std::string& what) {
  if (!value.IsArray()) ThrowInvalid(value.Env(), what + " must be an array of index arrays");
  Napi::Array batches = value.As<Napi::Array>();
  std::vector<std::vector<int64_t>> out(batches.Length());
  for (uint32_t b = 0; b < batches.Length(); ++b) {
    const std::string name = what + "[" + std::to_string(b) + "]";
    Napi::Value item = batches.Get(b);
    if (!item.IsArray() || item.As<Napi::Array>().Length() == 0) {
      ThrowInvalid(value.Env(), name + " must be a non-empty array of utterance indices");
    }
    Napi::Array indices = item.As<Napi::Array>();
    out[b].reserve(indices.Length());
    for (uint32_t i = 0; i < indices.Length(); ++i) {
      const int64_t index = IntArg(indices.Get(i), name + "[" + std::to_string(i) + "]");
      if (index < 0 || index >= size) {
        ThrowInvalid(value.Env(), name + "[" + std::to_string(i) + "] = " + std::to_string(index) +
                                      " is outside the store (0.." + std::to_string(size - 1) + ")");
      }
      out[b].push_back(index);
    }
  }
  return out;
}

// ---- struct conversion ----------------------------------------------------------------------------

asr::ModelConfig ModelConfigFromJs(const Napi::Value& value) {
  const std::string what = "model config";
  Napi::Object o = ObjectArg(value, what);
  CheckKeys(o, {"n_mels", "d_model", "num_layers", "num_heads", "ffn_dim", "conv_kernel", "vocab_size", "dropout"},
            what);
  asr::ModelConfig c;
  c.n_mels = IntField(o, "n_mels", c.n_mels, what);
  c.d_model = IntField(o, "d_model", c.d_model, what);
  c.num_layers = IntField(o, "num_layers", c.num_layers, what);
  c.num_heads = IntField(o, "num_heads", c.num_heads, what);
  c.ffn_dim = IntField(o, "ffn_dim", c.ffn_dim, what);
  c.conv_kernel = IntField(o, "conv_kernel", c.conv_kernel, what);
  c.vocab_size = IntField(o, "vocab_size", c.vocab_size, what);
  c.dropout = NumberField(o, "dropout", c.dropout, what);
  return c;
}

Napi::Object ModelConfigToJs(Napi::Env env, const asr::ModelConfig& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("n_mels", c.n_mels);
  o.Set("d_model", c.d_model);
  o.Set("num_layers", c.num_layers);
  o.Set("num_heads", c.num_heads);
  o.Set("ffn_dim", c.ffn_dim);
  o.Set("conv_kernel", c.conv_kernel);
  o.Set("vocab_size", c.vocab_size);
  o.Set("dropout", c.dropout);
  return o;
}

asr::TrainConfig TrainConfigFromJs(const Napi::Value& value) {
  asr::TrainConfig c;
  if (value.IsUndefined()) return c;
  const std::string what = "train config";
  Napi::Object o = ObjectArg(value, what);
  CheckKeys(o,
            {"learning_rate", "warmup_steps", "beta1", "beta2", "eps", "weight_decay", "grad_clip",
             "grad_accumulation", "seed", "threads", "device", "precision", "spec_augment"},
            what);
  c.learning_rate = NumberField(o, "learning_rate", c.learning_rate, what);
  c.warmup_steps = IntField(o, "warmup_steps", c.warmup_steps, what);
  c.beta1 = NumberField(o, "beta1", c.beta1, what);
  c.beta2 = NumberField(o, "beta2", c.beta2, what);
  c.eps = NumberField(o, "eps", c.eps, what);
  c.weight_decay = NumberField(o, "weight_decay", c.weight_decay, what);
  c.grad_clip = NumberField(o, "grad_clip", c.grad_clip, what);
  c.grad_accumulation = IntField(o, "grad_accumulation", c.grad_accumulation, what);
  const int64_t seed = IntField(o, "seed", 0, what);
  if (seed < 0) ThrowInvalid(o.Env(), what + ".seed must be >= 0");
  c.seed = static_cast<uint64_t>(seed);
  const int64_t threads = IntField(o, "threads", c.threads, what);
  if (threads < 0 || threads > 1024) ThrowInvalid(o.Env(), what + ".threads must be 0 (all cores) or a count");
  c.threads = static_cast<int>(threads);
  c.device = StringField(o, "device", c.device, what);
  c.precision = StringField(o, "precision", c.precision, what);
  Napi::Value sa = o.Get("spec_augment");
  if (!sa.IsUndefined()) {
    const std::string sa_what = what + ".spec_augment";
    Napi::Object s = ObjectArg(sa, sa_what);
    CheckKeys(s, {"enabled", "freq_masks", "freq_width", "time_masks", "time_width_fraction"}, sa_what);
    auto& a = c.spec_augment;
    a.enabled = BoolField(s, "enabled", a.enabled, sa_what);
    a.freq_masks = static_cast<int>(IntField(s, "freq_masks", a.freq_masks, sa_what));
    a.freq_width = static_cast<int>(IntField(s, "freq_width", a.freq_width, sa_what));
    a.time_masks = static_cast<int>(IntField(s, "time_masks", a.time_masks, sa_what));
    a.time_width_fraction = NumberField(s, "time_width_fraction", a.time_width_fraction, sa_what);
  }
  return c;
}

Napi::Object TrainConfigToJs(Napi::Env env, const asr::TrainConfig& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("learning_rate", c.learning_rate);
  o.Set("warmup_steps", c.warmup_steps);
  o.Set("beta1", c.beta1);
  o.Set("beta2", c.beta2);
  o.Set("eps", c.eps);
  o.Set("weight_decay", c.weight_decay);
  o.Set("grad_clip", c.grad_clip);
  o.Set("grad_accumulation", c.grad_accumulation);
  o.Set("seed", static_cast<double>(c.seed));
  o.Set("threads", c.threads);
  o.Set("device", c.device);
  o.Set("precision", c.precision);
  Napi::Object s = Napi::Object::New(env);
  s.Set("enabled", c.spec_augment.enabled);
  s.Set("freq_masks", c.spec_augment.freq_masks);
  s.Set("freq_width", c.spec_augment.freq_width);
  s.Set("time_masks", c.spec_augment.time_masks);
  s.Set("time_width_fraction", c.spec_augment.time_width_fraction);
  o.Set("spec_augment", s);
  return o;
}

asr::FbankOptions FbankOptionsFromJs(const Napi::Value& value) {
  asr::FbankOptions f;
  if (value.IsUndefined()) return f;
  const std::string what = "fbank options";
  Napi::Object o = ObjectArg(value, what);
  CheckKeys(o,
            {"num_mel_bins", "sample_rate", "frame_length_ms", "frame_shift_ms", "preemphasis", "dither", "n_fft",
             "remove_dc_offset", "snip_edges", "low_freq", "high_freq"},
            what);
  f.num_mel_bins = static_cast<int>(IntField(o, "num_mel_bins", f.num_mel_bins, what));
  f.sample_rate = NumberField(o, "sample_rate", f.sample_rate, what);
  f.frame_length_ms = NumberField(o, "frame_length_ms", f.frame_length_ms, what);
  f.frame_shift_ms = NumberField(o, "frame_shift_ms", f.frame_shift_ms, what);
  f.preemphasis = NumberField(o, "preemphasis", f.preemphasis, what);
  f.dither = NumberField(o, "dither", f.dither, what);
  f.n_fft = static_cast<int>(IntField(o, "n_fft", f.n_fft, what));
  f.remove_dc_offset = BoolField(o, "remove_dc_offset", f.remove_dc_offset, what);
  f.snip_edges = BoolField(o, "snip_edges", f.snip_edges, what);
  f.low_freq = NumberField(o, "low_freq", f.low_freq, what);
  f.high_freq = NumberField(o, "high_freq", f.high_freq, what);
  return f;
}

Napi::Object StepResultToJs(Napi::Env env, const asr::StepResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loss", r.loss);
  o.Set("lr", r.lr);
  o.Set("grad_norm", r.grad_norm);
  o.Set("global_step", r.global_step);
  o.Set("utterances", r.utterances);
  o.Set("frames", r.frames);
  o.Set("seconds", r.seconds);
  o.Set("finite", r.finite);
  o.Set("updated", r.updated);
  return o;
}

Napi::Array StringsToJs(Napi::Env env, const std::vector<std::string>& strings) {
  Napi::Array a = Napi::Array::New(env, strings.size());
  for (size_t i = 0; i < strings.size(); ++i) a.Set(static_cast<uint32_t>(i), strings[i]);
  return a;
}

Napi::Object EvalResultToJs(Napi::Env env, const asr::EvalResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loss", r.loss);
  o.Set("cer", r.cer);
  o.Set("wer", r.wer);
  o.Set("utterances", r.utterances);
  o.Set("hypotheses", StringsToJs(env, r.hypotheses));
  o.Set("references", StringsToJs(env, r.references));
  o.Set("ids", StringsToJs(env, r.ids));
  return o;
}

namespace {

Napi::Object Json(Napi::Env env) { return env.Global().Get("JSON").As<Napi::Object>(); }

std::string JsonObjectText(const Napi::Object& o, const char* key, const std::string& what) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return "{}";
  ObjectArg(v, what + "." + key);
  Napi::Value text = Json(o.Env()).Get("stringify").As<Napi::Function>().Call({v});
  return text.As<Napi::String>().Utf8Value();
}

Napi::Value ParseJsonObject(Napi::Env env, const std::string& text, const char* key) {
  Napi::Value parsed;
  try {
    parsed = Json(env).Get("parse").As<Napi::Function>().Call({Napi::String::New(env, text)});
  } catch (const Napi::Error&) {
    Throw(env, asr::codes::kCheckpointCorrupt, std::string("the checkpoint's ") + key + " is not valid JSON");
  }
  if (!parsed.IsObject() || parsed.IsArray()) {
    Throw(env, asr::codes::kCheckpointCorrupt, std::string("the checkpoint's ") + key + " is not a JSON object");
  }
  return parsed;
}

}  // namespace

asr::CheckpointMeta CheckpointMetaFromJs(const Napi::Value& value) {
  asr::CheckpointMeta m;
  if (value.IsUndefined()) return m;
  const std::string what = "checkpoint meta";
  Napi::Object o = ObjectArg(value, what);
  CheckKeys(o, {"epoch", "step", "global_step", "data_seed", "data_epoch", "batch_position", "config", "metrics"},
            what);
  m.epoch = IntField(o, "epoch", m.epoch, what);
  m.step = IntField(o, "step", m.step, what);
  m.global_step = IntField(o, "global_step", m.global_step, what);
  const int64_t seed = IntField(o, "data_seed", 0, what);
  if (seed < 0) ThrowInvalid(o.Env(), what + ".data_seed must be >= 0");
  m.data_seed = static_cast<uint64_t>(seed);
  m.data_epoch = IntField(o, "data_epoch", m.data_epoch, what);
  m.batch_position = IntField(o, "batch_position", m.batch_position, what);
  m.config_json = JsonObjectText(o, "config", what);
  m.metrics_json = JsonObjectText(o, "metrics", what);
  return m;
}

Napi::Object CheckpointMetaToJs(Napi::Env env, const asr::CheckpointMeta& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("epoch", m.epoch);
  o.Set("step", m.step);
  o.Set("global_step", m.global_step);
  o.Set("data_seed", static_cast<double>(m.data_seed));
  o.Set("data_epoch", m.data_epoch);
  o.Set("batch_position", m.batch_position);
  o.Set("config", ParseJsonObject(env, m.config_json, "config"));
  o.Set("metrics", ParseJsonObject(env, m.metrics_json, "metrics"));
  return o;
}

// ---- async jobs -----------------------------------------------------------------------------------

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
  const napi_status status =
      tsfn_.NonBlockingCall(boxed, [this](Napi::Env env, Napi::Function callback, Event* data) {
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

// ---- free functions -------------------------------------------------------------------------------

namespace {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) ThrowInvalid(info.Env(), "setErrorClass needs the AsrTrainerError class");
  Data(info.Env()).error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value Versions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&] {
    Napi::Object o = Napi::Object::New(env);
    o.Set("libtorch", TORCH_VERSION);
    o.Set("cuda", torch::cuda::is_available());
    o.Set("cudaDevices", static_cast<double>(torch::cuda::device_count()));
    o.Set("openmp", AT_PARALLEL_OPENMP == 1);
    int threads = 0;  // the compute thread's, where trainers run
    asr::run_on_compute_thread([&] { threads = at::get_num_threads(); });
    o.Set("threads", threads);
    o.Set("napi", NAPI_VERSION);
    return o;
  });
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t threads = IntArg(info[0], "threads");
  if (threads < 0 || threads > 1024) ThrowInvalid(env, "threads must be 0 (all cores) or a count");
  return Guarded(env, [&] {
    // The count belongs to the compute thread, where trainers run; this thread stays at one (Init).
    int set = 0;
    asr::run_on_compute_thread([&] { set = asr::set_threads(static_cast<int>(threads)); });
    return Napi::Number::New(env, set);
  });
}

Napi::Value ModelPreset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = StringArg(info[0], "preset name");
  return Guarded(env, [&] { return ModelConfigToJs(env, asr::model_preset(name)); });
}

std::vector<float> To16k(std::vector<float> samples, int64_t rate) {
  if (rate == asr::kModelSampleRate) return samples;
  return asr::resample(samples, static_cast<double>(rate), asr::kModelSampleRate);
}

Napi::Float32Array FloatsToJs(Napi::Env env, const float* data, size_t n) {
  Napi::Float32Array array = Napi::Float32Array::New(env, n);
  if (n > 0) std::memcpy(array.Data(), data, n * sizeof(float));
  return array;
}

// Small enough (one utterance) to stay on the main thread.
Napi::Value Fbank(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<float> samples = FloatArrayArg(info[0], "samples");
  const int64_t rate = IntArg(info[1], "sampleRate");
  if (rate <= 0) ThrowInvalid(env, "sampleRate must be positive");
  asr::FbankOptions options = FbankOptionsFromJs(info[2]);
  options.sample_rate = asr::kModelSampleRate;
  return Guarded(env, [&] {
    std::vector<float> wave = To16k(std::move(samples), rate);
    torch::Tensor input = torch::from_blob(wave.data(), {static_cast<int64_t>(wave.size())}, torch::kFloat32);
    torch::Tensor feats = asr::fbank(input, options).contiguous();
    Napi::Object o = Napi::Object::New(env);
    o.Set("data", FloatsToJs(env, feats.data_ptr<float>(), static_cast<size_t>(feats.numel())));
    o.Set("frames", feats.size(0));
    o.Set("bins", feats.size(1));
    return o;
  });
}

class ReadAudioJob : public AsyncJob {
 public:
  ReadAudioJob(Napi::Env env, std::string path) : AsyncJob(env, "asr.readAudio"), path_(std::move(path)) {}

 private:
  void Run() override { samples_ = asr::load_audio_16k(path_); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("samples", FloatsToJs(env, samples_.data(), samples_.size()));
    o.Set("sample_rate", asr::kModelSampleRate);
    return o;
  }
  std::string path_;
  std::vector<float> samples_;
};

Napi::Value ReadAudio(const Napi::CallbackInfo& info) {
  return (new ReadAudioJob(info.Env(), StringArg(info[0], "path")))->Start();
}

class CheckpointMetaJob : public AsyncJob {
 public:
  CheckpointMetaJob(Napi::Env env, std::string path) : AsyncJob(env, "asr.readCheckpointMeta"), path_(std::move(path)) {}

 private:
  void Run() override { meta_ = asr::read_checkpoint_meta(path_); }
  Napi::Value Result(Napi::Env env) override { return CheckpointMetaToJs(env, meta_); }
  std::string path_;
  asr::CheckpointMeta meta_;
};

Napi::Value ReadCheckpointMeta(const Napi::CallbackInfo& info) {
  return (new CheckpointMetaJob(info.Env(), StringArg(info[0], "path")))->Start();
}

class CheckpointModelConfigJob : public AsyncJob {
 public:
  CheckpointModelConfigJob(Napi::Env env, std::string path)
      : AsyncJob(env, "asr.readCheckpointModelConfig"), path_(std::move(path)) {}

 private:
  void Run() override { config_ = asr::read_checkpoint_model_config(path_); }
  Napi::Value Result(Napi::Env env) override { return ModelConfigToJs(env, config_); }
  std::string path_;
  asr::ModelConfig config_;
};

Napi::Value ReadCheckpointModelConfig(const Napi::CallbackInfo& info) {
  return (new CheckpointModelConfigJob(info.Env(), StringArg(info[0], "path")))->Start();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Node's main thread opens no OpenMP team either (compute_thread.h): the trainers' compute thread
  // should be the only one in the process.
  asr::limit_this_thread_to_one_openmp_thread();
  auto* data = new AddonData();
  env.SetInstanceData(data);
  data->feature_store = Napi::Persistent(FeatureStoreWrap::Define(env));
  data->trainer = Napi::Persistent(DefineTrainer(env));
  exports.DefineProperties({
      Napi::PropertyDescriptor::Accessor<Versions>("versions", napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "setErrorClass", SetErrorClass),
      Napi::PropertyDescriptor::Function(env, exports, "setThreads", SetThreads, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "modelPreset", ModelPreset, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "fbank", Fbank, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "readAudio", ReadAudio, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "readCheckpointMeta", ReadCheckpointMeta, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "readCheckpointModelConfig", ReadCheckpointModelConfig,
                                         napi_enumerable),
      Napi::PropertyDescriptor::Value("FeatureStore", data->feature_store.Value(), napi_enumerable),
      Napi::PropertyDescriptor::Value("Trainer", data->trainer.Value(), napi_enumerable),
  });
  RegisterFileLock(env, exports);
  return exports;
}

}  // namespace

}  // namespace asr_addon

// The registration macro pastes the name into an identifier, so it needs an unqualified one.
static Napi::Object InitAsrTrainer(Napi::Env env, Napi::Object exports) { return asr_addon::Init(env, exports); }
NODE_API_MODULE(asr_trainer, InitAsrTrainer)
