// JS holds a lock as its descriptor number: a plain number is never garbage-collected, so the lock
// lasts until unlockFile() or the death of the process, never until a forgotten handle is finalised.
// The descriptor is also what src/training hands to the trainer child, and what fs.writeSync uses
// to write the owner record into the locked file.
#include "file_lock_binding.h"

#include <map>
#include <mutex>
#include <utility>

#include "asr/file_lock.h"
#include "binding.h"

namespace asr_addon {
namespace {

// The locks this process holds, by descriptor: one table per process, as descriptors are.
std::mutex held_mutex;
std::map<int, asr::FileLock> held;

int32_t Keep(asr::FileLock lock) {
  const int fd = lock.fd();
  std::lock_guard<std::mutex> guard(held_mutex);
  held.insert_or_assign(fd, std::move(lock));
  return fd;
}

// lockFile(path): the descriptor holding the lock, or null while another open file holds it.
Napi::Value LockFile(const Napi::CallbackInfo& info) {
  const std::string path = StringArg(info[0], "path");
  return Guarded(info.Env(), [&]() -> Napi::Value {
    auto lock = asr::FileLock::try_acquire(path);
    if (!lock) return info.Env().Null();
    return Napi::Number::New(info.Env(), Keep(std::move(*lock)));
  });
}

// createLockedFile(path): a new file (it must not exist), locked, as its descriptor; null when a reclaimer
// caught it before the lock (try another name). Closed by unlockFile() once the file is renamed into place.
Napi::Value CreateLockedFile(const Napi::CallbackInfo& info) {
  const std::string path = StringArg(info[0], "path");
  return Guarded(info.Env(), [&]() -> Napi::Value {
    auto lock = asr::FileLock::create_exclusive(path);
    if (!lock) return info.Env().Null();
    return Napi::Number::New(info.Env(), Keep(std::move(*lock)));
  });
}

// removeAbandonedFile(path): the bytes of the file removed because no writer holds it, or null (kept).
Napi::Value RemoveAbandonedFile(const Napi::CallbackInfo& info) {
  const std::string path = StringArg(info[0], "path");
  return Guarded(info.Env(), [&]() -> Napi::Value {
    const auto bytes = asr::remove_abandoned_file(path);
    if (!bytes) return info.Env().Null();
    return Napi::Number::New(info.Env(), static_cast<double>(*bytes));
  });
}

// adoptFileLock(fd, path): takes over a descriptor inherited from the parent process; returns it.
Napi::Value AdoptFileLock(const Napi::CallbackInfo& info) {
  const int64_t fd = IntArg(info[0], "fd");
  const std::string path = StringArg(info[1], "path");
  return Guarded(info.Env(), [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), Keep(asr::FileLock::adopt(static_cast<int>(fd), path)));
  });
}

// unlockFile(fd): closes a descriptor lockFile/adoptFileLock returned; unknown ones are ignored, so
// a second call is harmless.
Napi::Value UnlockFile(const Napi::CallbackInfo& info) {
  const int64_t fd = IntArg(info[0], "fd");
  std::lock_guard<std::mutex> guard(held_mutex);
  held.erase(static_cast<int>(fd));
  return info.Env().Undefined();
}

// descriptorChannel(): [keep, give], a connected pair of Unix sockets (close-on-exec): `give` goes to a
// child process as one of its descriptors at spawn, and the caller closes its own copy of it afterwards.
Napi::Value DescriptorChannel(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), [&]() -> Napi::Value {
    const auto [keep, give] = asr::descriptor_channel();
    Napi::Array ends = Napi::Array::New(info.Env(), 2);
    ends.Set(0u, Napi::Number::New(info.Env(), keep));
    ends.Set(1u, Napi::Number::New(info.Env(), give));
    return ends;
  });
}

// sendDescriptor(socket, fd): hands a copy of `fd` (a held lock's) to the process at the other end.
Napi::Value SendDescriptor(const Napi::CallbackInfo& info) {
  const int64_t socket = IntArg(info[0], "socket");
  const int64_t fd = IntArg(info[1], "fd");
  return Guarded(info.Env(), [&]() -> Napi::Value {
    asr::send_descriptor(static_cast<int>(socket), static_cast<int>(fd));
    return info.Env().Undefined();
  });
}

// receiveDescriptor(socket, timeoutMs): the descriptor the other end sent (adoptFileLock takes it over).
Napi::Value ReceiveDescriptor(const Napi::CallbackInfo& info) {
  const int64_t socket = IntArg(info[0], "socket");
  const int64_t timeout_ms = IntArg(info[1], "timeoutMs");
  return Guarded(info.Env(), [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(),
                             asr::receive_descriptor(static_cast<int>(socket), static_cast<int>(timeout_ms)));
  });
}

}  // namespace

void RegisterFileLock(Napi::Env env, Napi::Object exports) {
  exports.DefineProperties({
      Napi::PropertyDescriptor::Function(env, exports, "lockFile", LockFile, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "createLockedFile", CreateLockedFile, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "removeAbandonedFile", RemoveAbandonedFile, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "adoptFileLock", AdoptFileLock, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "unlockFile", UnlockFile, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "descriptorChannel", DescriptorChannel, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "sendDescriptor", SendDescriptor, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "receiveDescriptor", ReceiveDescriptor, napi_enumerable),
  });
}

}  // namespace asr_addon
