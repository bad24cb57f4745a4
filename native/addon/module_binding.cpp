// The module: the free functions (versions, setThreads, fbank, readAudio, checkpoint metadata) and the init
// that exports them with the FeatureStore and Trainer classes and the other files' functions (Register*).
#include <ATen/Config.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cstring>
#include <utility>

#include "asr/audio.h"
#include "asr/compute_thread.h"
#include "asr/errors.h"
#include "asr/runtime.h"
#include "binding.h"
#include "file_lock_binding.h"
#include "world_binding.h"

namespace asr_addon {

namespace {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) ThrowInvalid(info.Env(), "setErrorClass needs the AsrTrainerError class");
  Data(info.Env()).error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// From values known without the compute thread (which may be busy with a whole training call): the build's
// facts, read once, and the thread count the compute thread last reported or was last given.
Napi::Value Versions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&] {
    static const bool cuda = torch::cuda::is_available();
    static const auto cuda_devices = static_cast<double>(torch::cuda::device_count());
    Napi::Object o = Napi::Object::New(env);
    o.Set("libtorch", TORCH_VERSION);
    o.Set("cuda", cuda);
    o.Set("cudaDevices", cuda_devices);
    o.Set("openmp", AT_PARALLEL_OPENMP == 1);
    o.Set("threads", asr::compute_thread_threads());
    o.Set("napi", NAPI_VERSION);
    return o;
  });
}

// The count belongs to the compute thread, where trainers run (this thread stays at one, Init); it is
// applied there before the next queued work, without waiting for the work in flight.
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t threads = IntArg(info[0], "threads");
  if (threads < 0 || threads > 1024) ThrowInvalid(env, "threads must be 0 (all cores) or a count");
  return Guarded(env,
                 [&] { return Napi::Number::New(env, asr::set_compute_thread_threads(static_cast<int>(threads))); });
}

// allowAllocatorTuning(allowed): the program's answer to ASR_TRAINER_MALLOC (runtime.h), before any trainer.
Napi::Value AllowAllocatorTuning(const Napi::CallbackInfo& info) {
  if (!info[0].IsBoolean()) ThrowInvalid(info.Env(), "allowed must be a boolean");
  asr::allow_allocator_tuning(info[0].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

// heapBytes(): the allocator's heap size (the last run's peak, read when it ends); 0 where unknown.
Napi::Value HeapBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(asr::heap_bytes()));
}

// warmHeap(bytes): page in `bytes` of heap and keep them (a trainer started before its run); false when the
// allocator would hand them back anyway.
Napi::Value WarmHeap(const Napi::CallbackInfo& info) {
  const int64_t bytes = IntArg(info[0], "bytes");
  if (bytes < 0) ThrowInvalid(info.Env(), "bytes must be >= 0");
  return Napi::Boolean::New(info.Env(), asr::warm_heap(static_cast<std::size_t>(bytes)));
}

Napi::Float32Array FloatsToJs(Napi::Env env, const float* data, size_t n) {
  Napi::Float32Array array = Napi::Float32Array::New(env, n);
  if (n > 0) std::memcpy(array.Data(), data, n * sizeof(float));
  return array;
}

class FbankJob : public AsyncJob {
 public:
  FbankJob(Napi::Env env, std::vector<float> samples, int64_t rate, asr::FbankOptions options)
      : AsyncJob(env, "asr.fbank"), samples_(std::move(samples)), rate_(rate), options_(std::move(options)) {}

 private:
  void Run() override { features_ = asr::fbank_of_audio(std::move(samples_), static_cast<double>(rate_), options_); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("data", FloatsToJs(env, features_.data_ptr<float>(), static_cast<size_t>(features_.numel())));
    o.Set("frames", features_.size(0));
    o.Set("bins", features_.size(1));
    return o;
  }
  std::vector<float> samples_;
  int64_t rate_;
  asr::FbankOptions options_;
  torch::Tensor features_;
};

Napi::Value Fbank(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<float> samples = FloatArrayArg(info[0], "samples");
  const int64_t rate = IntArg(info[1], "sampleRate");
  if (rate <= 0) ThrowInvalid(env, "sampleRate must be positive");
  return (new FbankJob(env, std::move(samples), rate, FbankOptionsFromJs(info[2])))->Start();
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
  CheckpointMetaJob(Napi::Env env, std::string path)
      : AsyncJob(env, "asr.readCheckpointMeta"), path_(std::move(path)) {}

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
      Napi::PropertyDescriptor::Function(env, exports, "allowAllocatorTuning", AllowAllocatorTuning, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "heapBytes", HeapBytes, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "warmHeap", WarmHeap, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "fbank", Fbank, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "readAudio", ReadAudio, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "readCheckpointMeta", ReadCheckpointMeta, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "readCheckpointModelConfig", ReadCheckpointModelConfig,
                                         napi_enumerable),
      Napi::PropertyDescriptor::Value("FeatureStore", data->feature_store.Value(), napi_enumerable),
      Napi::PropertyDescriptor::Value("Trainer", data->trainer.Value(), napi_enumerable),
  });
  RegisterModel(env, exports);
  RegisterCheckpointAverage(env, exports);
  RegisterFileLock(env, exports);
  RegisterWorld(env, exports);
  return exports;
}

}  // namespace

}  // namespace asr_addon

// The registration macro pastes the name into an identifier, so it needs an unqualified one.
static Napi::Object InitAsrTrainer(Napi::Env env, Napi::Object exports) { return asr_addon::Init(env, exports); }
NODE_API_MODULE(asr_trainer, InitAsrTrainer)
