// The core's model sizes for JS: modelPreset, modelPresets and modelConfigProblems. TypeScript reads presets
// and the check of a model config from here (src/config/models.ts), so model.cpp stays their one definition.
#include "asr/model.h"
#include "binding.h"

namespace asr_addon {

namespace {

Napi::Value ModelPreset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = StringArg(info[0], "preset name");
  return Guarded(env, [&] { return ModelConfigToJs(env, asr::model_preset(name)); });
}

// { name: ModelConfig } in the core's order (object keys keep their insertion order).
Napi::Value ModelPresets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object presets = Napi::Object::New(env);
  for (const auto& preset : asr::model_presets()) presets.Set(preset.name, ModelConfigToJs(env, preset.config));
  return presets;
}

// [{ field, message }] for a (partial) ModelConfig; missing fields take the C++ defaults.
Napi::Value ModelConfigProblems(const Napi::CallbackInfo& info) {
  const asr::ModelConfig config = ModelConfigFromJs(info[0]);
  return ModelConfigProblemsToJs(info.Env(), asr::model_config_problems(config));
}

}  // namespace

void RegisterModel(Napi::Env env, Napi::Object exports) {
  exports.DefineProperties({
      Napi::PropertyDescriptor::Function(env, exports, "modelPreset", ModelPreset, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "modelPresets", ModelPresets, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "modelConfigProblems", ModelConfigProblems, napi_enumerable),
  });
}

}  // namespace asr_addon
