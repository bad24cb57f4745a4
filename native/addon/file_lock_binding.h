#pragma once
// The checkpoint folder's kernel lock (asr::FileLock) for JS: lockFile, adoptFileLock, unlockFile.
#include <napi.h>

namespace asr_addon {

void RegisterFileLock(Napi::Env env, Napi::Object exports);

}  // namespace asr_addon
