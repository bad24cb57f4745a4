// Reading JS arguments on the main thread; every mistake is an E_INVALID_ARGUMENT naming the field.
#include <cmath>

#include "binding.h"

namespace asr_addon {

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

}  // namespace asr_addon
