#pragma once
// The checkpoint folder's kernel lock (asr::FileLock) for JS: lockFile, adoptFileLock, unlockFile, and
// descriptorChannel, sendDescriptor, receiveDescriptor to hand it to a trainer that is already running.
#include <napi.h>

namespace asr_addon {

void RegisterFileLock(Napi::Env env, Napi::Object exports);

}  // namespace asr_addon
