// Native failures as JS errors: asr::Error keeps its code, everything else becomes E_INTERNAL.
#include <torch/torch.h>

#include <new>

#include "asr/errors.h"
#include "binding.h"

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

}  // namespace asr_addon
