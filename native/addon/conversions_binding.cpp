// The core's structs to and from plain JS objects (snake_case fields, as in the C++ structs).
#include <iterator>
#include <type_traits>

#include "asr/errors.h"
#include "binding.h"

namespace asr_addon {

asr::ModelConfig ModelConfigFromJs(const Napi::Value& value) {
  const std::string what = "model config";
  Napi::Object o = ObjectArg(value, what);
  CheckKeys(o, std::vector<const char*>(std::begin(asr::kModelConfigFields), std::end(asr::kModelConfigFields)), what);
  asr::ModelConfig c;
  asr::for_each_model_config_field(c, [&](const char* key, auto& field) {
    if constexpr (std::is_floating_point_v<std::decay_t<decltype(field)>>) {
      field = NumberField(o, key, field, what);
    } else {
      field = IntField(o, key, field, what);
    }
  });
  return c;
}

Napi::Object ModelConfigToJs(Napi::Env env, const asr::ModelConfig& c) {
  Napi::Object o = Napi::Object::New(env);
  asr::for_each_model_config_field(c, [&](const char* key, auto value) { o.Set(key, value); });
  return o;
}

Napi::Array ModelConfigProblemsToJs(Napi::Env env, const std::vector<asr::ModelConfigProblem>& problems) {
  Napi::Array array = Napi::Array::New(env, problems.size());
  for (size_t i = 0; i < problems.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("field", problems[i].field);
    o.Set("message", problems[i].message);
    array.Set(static_cast<uint32_t>(i), o);
  }
  return array;
}

asr::TrainConfig TrainConfigFromJs(const Napi::Value& value) {
  asr::TrainConfig c;
  if (value.IsUndefined()) return c;
  const std::string what = "train config";
  Napi::Object o = ObjectArg(value, what);
  CheckKeys(o,
            {"learning_rate", "warmup_steps", "beta1", "beta2", "eps", "weight_decay", "grad_clip", "grad_accumulation",
             "seed", "threads", "device", "precision", "spec_augment", "ema_decay"},
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
  c.ema_decay = NumberField(o, "ema_decay", c.ema_decay, what);
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
  o.Set("ema_decay", c.ema_decay);
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
  if (!r.rank_seconds.empty()) {  // attached to a world
    Napi::Array seconds = Napi::Array::New(env, r.rank_seconds.size());
    for (size_t i = 0; i < r.rank_seconds.size(); ++i) seconds.Set(static_cast<uint32_t>(i), r.rank_seconds[i]);
    o.Set("rank_seconds", seconds);
    o.Set("allreduce_s", r.allreduce_s);
    o.Set("ids", StringsToJs(env, r.ids));
  }
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

WorldRequest WorldRequestFromJs(const Napi::Value& value) {
  const std::string what = "world options";
  Napi::Object o = ObjectArg(value, what);
  CheckKeys(o,
            {"rank", "local_rank", "world_size", "local_world_size", "master_addr", "master_port", "agent_store",
             "restart_count", "backend", "timeout_s", "device"},
            what);
  WorldRequest r;
  auto small_int = [&](const char* key, int fallback) {
    const int64_t v = IntField(o, key, fallback, what);
    if (v < -1'000'000 || v > 1'000'000) ThrowInvalid(o.Env(), what + "." + key + " is out of range");
    return static_cast<int>(v);
  };
  r.world.rank = small_int("rank", r.world.rank);
  r.world.local_rank = small_int("local_rank", r.world.local_rank);
  r.world.world_size = small_int("world_size", r.world.world_size);
  r.world.local_world_size = small_int("local_world_size", r.world.local_world_size);
  r.world.master_addr = StringField(o, "master_addr", r.world.master_addr, what);
  r.world.master_port = small_int("master_port", r.world.master_port);
  r.world.agent_store = BoolField(o, "agent_store", r.world.agent_store, what);
  r.world.restart_count = small_int("restart_count", r.world.restart_count);
  r.backend = StringField(o, "backend", r.backend, what);
  r.timeout_s = NumberField(o, "timeout_s", r.timeout_s, what);
  r.device = StringField(o, "device", r.device, what);
  return r;
}

}  // namespace asr_addon
