// FeatureStore: a JS handle on an immutable asr::FeatureStore, made only by open() and fromAudio().
#include <utility>

#include "asr/audio.h"
#include "asr/errors.h"
#include "binding.h"

namespace asr_addon {

namespace {

class OpenJob : public AsyncJob {
 public:
  OpenJob(Napi::Env env, std::vector<asr::UtteranceSpec> specs, asr::FeatureStoreOptions options)
      : AsyncJob(env, "asr.FeatureStore.open"), specs_(std::move(specs)), options_(std::move(options)) {}

  void WithProgress(Napi::Function callback) {
    EnableProgress(callback);
    reports_progress_ = true;
  }

 private:
  void Run() override {
    asr::ProgressFn progress;
    if (reports_progress_) {
      progress = [this](int64_t done, int64_t total) {
        // A throwing callback stops the workers; open() writes nothing and the promise rejects with it.
        if (CallbackFailed()) throw asr::Error(asr::codes::kCancelled, "the progress callback threw");
        Post([done, total](Napi::Env env, Napi::Function callback) {
          callback.Call(
              {Napi::Number::New(env, static_cast<double>(done)), Napi::Number::New(env, static_cast<double>(total))});
        });
      };
    }
    store_ = asr::FeatureStore::open(specs_, options_, progress);
  }
  Napi::Value Result(Napi::Env env) override { return FeatureStoreWrap::Wrap(env, store_); }

  std::vector<asr::UtteranceSpec> specs_;
  asr::FeatureStoreOptions options_;
  bool reports_progress_ = false;
  std::shared_ptr<const asr::FeatureStore> store_;
};

class FromAudioJob : public AsyncJob {
 public:
  FromAudioJob(Napi::Env env, std::vector<std::string> ids, std::vector<std::vector<float>> samples,
               std::vector<double> rates, std::vector<std::string> texts, asr::FbankOptions fbank)
      : AsyncJob(env, "asr.FeatureStore.fromAudio"),
        ids_(std::move(ids)),
        samples_(std::move(samples)),
        rates_(std::move(rates)),
        texts_(std::move(texts)),
        fbank_(std::move(fbank)) {}

 private:
  void Run() override {
    store_ = asr::FeatureStore::from_audio_at_rates(ids_, std::move(samples_), rates_, texts_, fbank_);
  }
  Napi::Value Result(Napi::Env env) override { return FeatureStoreWrap::Wrap(env, store_); }

  std::vector<std::string> ids_;
  std::vector<std::vector<float>> samples_;
  std::vector<double> rates_;
  std::vector<std::string> texts_;
  asr::FbankOptions fbank_;
  std::shared_ptr<const asr::FeatureStore> store_;
};

// Doubles, not FloatArrayArg's floats: a factor names its cache file, and 0.9f would name another one.
std::vector<double> SpeedFactorsField(const Napi::Object& o, const std::string& what) {
  const Napi::Value value = o.Get("speed_factors");
  if (value.IsUndefined()) return {};
  if (!value.IsArray()) ThrowInvalid(o.Env(), what + " must be an array of numbers such as [0.9, 1.0, 1.1]");
  const Napi::Array array = value.As<Napi::Array>();
  std::vector<double> factors;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const Napi::Value factor = array.Get(i);
    if (!factor.IsNumber()) ThrowInvalid(o.Env(), what + "[" + std::to_string(i) + "] must be a number");
    factors.push_back(factor.As<Napi::Number>().DoubleValue());
  }
  return factors;
}

}  // namespace

Napi::Function FeatureStoreWrap::Define(Napi::Env env) {
  return DefineClass(env, "FeatureStore",
                     {
                         StaticMethod<&FeatureStoreWrap::Open>("open"),
                         StaticMethod<&FeatureStoreWrap::FromAudio>("fromAudio"),
                         InstanceAccessor<&FeatureStoreWrap::Size>("size"),
                         InstanceAccessor<&FeatureStoreWrap::Utterances>("utterances"),
                         InstanceAccessor<&FeatureStoreWrap::SpeedFactors>("speedFactors"),
                         InstanceAccessor<&FeatureStoreWrap::Computed>("computed"),
                         InstanceAccessor<&FeatureStoreWrap::Cached>("cached"),
                         InstanceAccessor<&FeatureStoreWrap::Skipped>("skipped"),
                         InstanceAccessor<&FeatureStoreWrap::CachePath>("cachePath"),
                         InstanceAccessor<&FeatureStoreWrap::TotalFrames>("totalFrames"),
                         InstanceMethod<&FeatureStoreWrap::Frames>("frames"),
                         InstanceMethod<&FeatureStoreWrap::Id>("id"),
                         InstanceMethod<&FeatureStoreWrap::Text>("text"),
                         InstanceMethod<&FeatureStoreWrap::Ids>("ids"),
                         InstanceMethod<&FeatureStoreWrap::PlanEpoch>("planEpoch"),
                     });
}

Napi::Object FeatureStoreWrap::Wrap(Napi::Env env, std::shared_ptr<const asr::FeatureStore> store) {
  // The external is only read during construction, so a stack pointer is enough.
  return Data(env).feature_store.New({Napi::External<std::shared_ptr<const asr::FeatureStore>>::New(env, &store)});
}

std::shared_ptr<const asr::FeatureStore> FeatureStoreWrap::From(const Napi::Value& value, const std::string& what) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(Data(env).feature_store.Value())) {
    ThrowInvalid(env, what + " must be a FeatureStore (from FeatureStore.open or FeatureStore.fromAudio)");
  }
  return Unwrap(value.As<Napi::Object>())->store_;
}

FeatureStoreWrap::FeatureStoreWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FeatureStoreWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    ThrowInvalid(info.Env(), "a FeatureStore is made by FeatureStore.open() or FeatureStore.fromAudio(), not new");
  }
  store_ = *info[0].As<Napi::External<std::shared_ptr<const asr::FeatureStore>>>().Data();
}

Napi::Value FeatureStoreWrap::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) ThrowInvalid(env, "specs must be an array of {id, wav_path, text, offset?, duration?}");
  Napi::Array array = info[0].As<Napi::Array>();
  std::vector<asr::UtteranceSpec> specs(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const std::string what = "specs[" + std::to_string(i) + "]";
    Napi::Object o = ObjectArg(array.Get(i), what);
    CheckKeys(o, {"id", "wav_path", "text", "offset", "duration"}, what);
    specs[i] = {StringArg(o.Get("id"), what + ".id"),
                StringArg(o.Get("wav_path"), what + ".wav_path"),
                StringArg(o.Get("text"), what + ".text"),
                {NumberField(o, "offset", 0, what), NumberField(o, "duration", 0, what)}};
  }
  const std::string what = "feature store options";
  Napi::Object o = ObjectArg(info[1], what);
  CheckKeys(o, {"cache_dir", "cache_name", "fbank", "threads", "speed_factors"}, what);
  asr::FeatureStoreOptions options;
  options.cache_dir = StringArg(o.Get("cache_dir"), what + ".cache_dir");
  options.cache_name = StringField(o, "cache_name", options.cache_name, what);
  options.fbank = FbankOptionsFromJs(o.Get("fbank"));
  options.threads = static_cast<int>(IntField(o, "threads", options.threads, what));
  options.speed_factors = SpeedFactorsField(o, what + ".speed_factors");
  auto* job = new OpenJob(env, std::move(specs), std::move(options));
  if (info[2].IsFunction()) {
    job->WithProgress(info[2].As<Napi::Function>());
  } else if (!info[2].IsUndefined()) {
    delete job;
    ThrowInvalid(env, "onProgress must be a function");
  }
  return job->Start();
}

Napi::Value FeatureStoreWrap::FromAudio(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) ThrowInvalid(env, "utterances must be an array of {id, samples, sample_rate, text}");
  Napi::Array array = info[0].As<Napi::Array>();
  std::vector<std::string> ids, texts;
  std::vector<std::vector<float>> samples;
  std::vector<double> rates;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const std::string what = "utterances[" + std::to_string(i) + "]";
    Napi::Object o = ObjectArg(array.Get(i), what);
    CheckKeys(o, {"id", "samples", "sample_rate", "text"}, what);
    ids.push_back(StringArg(o.Get("id"), what + ".id"));
    samples.push_back(FloatArrayArg(o.Get("samples"), what + ".samples"));
    const int64_t rate = IntArg(o.Get("sample_rate"), what + ".sample_rate");
    if (rate <= 0) ThrowInvalid(env, what + ".sample_rate must be positive");
    rates.push_back(static_cast<double>(rate));
    texts.push_back(StringArg(o.Get("text"), what + ".text"));
  }
  asr::FbankOptions fbank = FbankOptionsFromJs(info[1]);
  return (new FromAudioJob(env, std::move(ids), std::move(samples), std::move(rates), std::move(texts),
                           std::move(fbank)))
      ->Start();
}

Napi::Value FeatureStoreWrap::Size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(store_->size()));
}
Napi::Value FeatureStoreWrap::Utterances(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(store_->utterances()));
}
Napi::Value FeatureStoreWrap::SpeedFactors(const Napi::CallbackInfo& info) {
  const auto& factors = store_->speed_factors();
  Napi::Array out = Napi::Array::New(info.Env(), factors.size());
  for (size_t i = 0; i < factors.size(); ++i)
    out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), factors[i]));
  return out;
}
Napi::Value FeatureStoreWrap::Computed(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(store_->computed()));
}
Napi::Value FeatureStoreWrap::Cached(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(store_->cached()));
}
Napi::Value FeatureStoreWrap::CachePath(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), store_->cache_path());
}
Napi::Value FeatureStoreWrap::TotalFrames(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(store_->total_frames()));
}

Napi::Value FeatureStoreWrap::Skipped(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& skipped = store_->skipped();
  Napi::Array out = Napi::Array::New(env, skipped.size());
  for (size_t i = 0; i < skipped.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", skipped[i].first);
    o.Set("reason", skipped[i].second);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

int64_t FeatureStoreWrap::IndexArg(const Napi::CallbackInfo& info) const {
  const int64_t index = IntArg(info[0], "index");
  if (index < 0 || index >= store_->size()) {
    ThrowInvalid(info.Env(), "index " + std::to_string(index) + " is outside the store (size " +
                                 std::to_string(store_->size()) + ")");
  }
  return index;
}

Napi::Value FeatureStoreWrap::Frames(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(store_->frames(IndexArg(info))));
}
Napi::Value FeatureStoreWrap::Id(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), store_->id(IndexArg(info)));
}
Napi::Value FeatureStoreWrap::Text(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), store_->text(IndexArg(info)));
}

Napi::Value FeatureStoreWrap::Ids(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, static_cast<size_t>(store_->size()));
  for (int64_t i = 0; i < store_->size(); ++i) out.Set(static_cast<uint32_t>(i), store_->id(i));
  return out;
}

// A permutation and a sort of the store's lengths: cheap enough for the main thread.
Napi::Value FeatureStoreWrap::PlanEpoch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string what = "batch plan options";
  Napi::Object o = ObjectArg(info[0], what);
  CheckKeys(o, {"batch_size", "max_frames", "seed", "bucket_chunk", "shuffle", "bucket"}, what);
  asr::BatchPlanOptions options;
  options.batch_size = IntField(o, "batch_size", options.batch_size, what);
  options.max_frames = IntField(o, "max_frames", options.max_frames, what);
  const int64_t seed = IntField(o, "seed", 0, what);
  if (seed < 0) ThrowInvalid(env, what + ".seed must be >= 0");
  options.seed = static_cast<uint64_t>(seed);
  options.bucket_chunk = IntField(o, "bucket_chunk", options.bucket_chunk, what);
  options.shuffle = BoolField(o, "shuffle", options.shuffle, what);
  options.bucket = BoolField(o, "bucket", options.bucket, what);
  const int64_t epoch = IntArg(info[1], "epoch");
  return Guarded(env, [&] {
    const auto plan = asr::plan_epoch(*store_, options, epoch);
    Napi::Array out = Napi::Array::New(env, plan.size());
    for (size_t b = 0; b < plan.size(); ++b) {
      Napi::Array batch = Napi::Array::New(env, plan[b].size());
      for (size_t i = 0; i < plan[b].size(); ++i) {
        batch.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(plan[b][i])));
      }
      out.Set(static_cast<uint32_t>(b), batch);
    }
    return out;
  });
}

}  // namespace asr_addon
