#include "asr/checkpoint.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <type_traits>

#include "asr/errors.h"

namespace asr {

namespace {

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

[[noreturn]] void io_error(const std::string& what, const std::string& path, int err) {
  throw Error(codes::kIo, what + " '" + path + "': " + std::strerror(err));
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) io_error("checkpoint written but cannot open its folder to sync", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) io_error("checkpoint written but cannot sync its folder", dir, err);
}

const c10::IValue* find(const c10::impl::GenericDict& d, const char* key) {
  auto it = d.find(key);
  return it == d.end() ? nullptr : &it->value();
}

int64_t int_or(const c10::impl::GenericDict& d, const char* key, int64_t fallback) {
  const auto* v = find(d, key);
  return v && v->isInt() ? v->toInt() : fallback;
}

std::string string_or(const c10::impl::GenericDict& d, const char* key, const std::string& fallback) {
  const auto* v = find(d, key);
  return v && v->isString() ? v->toStringRef() : fallback;
}

}  // namespace

void write_checkpoint(const std::string& path, const CheckpointSnapshot& snapshot) {
  // torch::pickle_save's format, streamed into the temp file: pickle_save builds the whole zip in a
  // growing vector first (for m, ~315 MB copied twice and page-faulted) before a byte reaches the disk.
  std::vector<char> pickle;
  torch::jit::Pickler pickler([&](const char* data, size_t size) { pickle.insert(pickle.end(), data, data + size); });
  try {
    pickler.protocol();
    pickler.pushIValue(snapshot.dict);
    pickler.stop();
  } catch (const c10::Error& e) {
    throw Error(codes::kInternal, "cannot serialise checkpoint for '" + path + "': " + e.what_without_backtrace());
  }
  const std::string dir = parent_dir(path);
  std::random_device entropy;
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(entropy());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) io_error("cannot write checkpoint '" + path + "': cannot create a temp file in folder", dir, errno);
  try {
    // After a failed write() the rest of the archive is discarded, not reported to the zip writer as a
    // short write: LibTorch 1.13's writer then throws again from its destructor (std::terminate). The
    // kept errno fails the save once the archive is complete.
    int write_errno = 0;
    auto to_file = [&](const void* data, size_t size) -> size_t {
      const char* p = static_cast<const char*>(data);
      size_t left = size;
      while (left > 0 && write_errno == 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
          write_errno = n < 0 ? errno : EIO;
        else
          p += n, left -= static_cast<size_t>(n);
      }
      return size;
    };
    try {
      caffe2::serialize::PyTorchStreamWriter writer(to_file);
      // The layout torch.save writes: data.pkl, then one record per tensor storage under data/.
      writer.writeRecord("data.pkl", pickle.data(), pickle.size());
      const auto& tensors = pickler.tensorData();
      for (size_t i = 0; i < tensors.size(); ++i) {
        const auto bytes = torch::jit::getWriteableTensorData(tensors[i]);
        writer.writeRecord("data/" + std::to_string(i), bytes.data(), bytes.sizeInBytes());
      }
      writer.writeEndOfFile();
    } catch (const c10::Error& e) {
      throw Error(codes::kInternal, "cannot serialise checkpoint for '" + path + "': " + e.what_without_backtrace());
    }
    if (write_errno != 0) io_error("cannot write checkpoint", path, write_errno);
    if (::fsync(fd) != 0) io_error("cannot sync checkpoint", path, errno);
    if (::close(fd) != 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      io_error("cannot close checkpoint", path, err);
    }
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    io_error("cannot rename checkpoint into place at", path, err);
  }
  fsync_dir(dir);
}

CheckpointSnapshot read_checkpoint(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) throw Error(codes::kCheckpointNotFound, "checkpoint '" + path + "' does not exist");
    io_error("cannot read checkpoint", path, errno);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) io_error("cannot open checkpoint", path, errno);
  // One read of the known size (an istreambuf_iterator copy went byte by byte: ~3.7 s for m's 315 MB).
  std::vector<char> bytes(static_cast<size_t>(st.st_size));
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (in.bad() || static_cast<size_t>(in.gcount()) != bytes.size()) io_error("cannot read checkpoint", path, errno);
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    // c10::Error from the zip reader or unpickler: truncated, foreign or garbage bytes.
    std::string reason = e.what();
    if (const auto* ce = dynamic_cast<const c10::Error*>(&e)) reason = ce->what_without_backtrace();
    throw Error(codes::kCheckpointCorrupt, "checkpoint '" + path + "' (" + std::to_string(bytes.size()) +
                                               " bytes) cannot be read: it is truncated or not a checkpoint (" +
                                               reason.substr(0, reason.find('\n')) + ")");
  }
  if (!value.isGenericDict()) {
    throw Error(codes::kCheckpointCorrupt,
                "checkpoint '" + path + "' holds a " + value.tagKind() + ", not an asr-trainer checkpoint dict");
  }
  const auto dict = value.toGenericDict();
  for (const char* key : {"model", "optimizer", "global_step", "format_version"}) {
    if (!find(dict, key)) {
      throw Error(codes::kCheckpointCorrupt,
                  "checkpoint '" + path + "' has no '" + key + "' entry; not an asr-trainer checkpoint");
    }
  }
  const auto version = int_or(dict, "format_version", -1);
  if (version < 1 || version > kCheckpointFormatVersion) {
    throw Error(codes::kCheckpointCorrupt, "checkpoint '" + path + "' has format_version " + std::to_string(version) +
                                               "; this build reads 1.." + std::to_string(kCheckpointFormatVersion));
  }
  return CheckpointSnapshot{value};
}

CheckpointMeta checkpoint_meta(const CheckpointSnapshot& snapshot) {
  const auto dict = snapshot.dict.toGenericDict();
  CheckpointMeta meta;
  meta.epoch = int_or(dict, "epoch", 0);
  meta.step = int_or(dict, "step", 0);
  meta.global_step = int_or(dict, "global_step", 0);
  if (const auto* data = find(dict, "data"); data && data->isGenericDict()) {
    const auto d = data->toGenericDict();
    meta.data_seed = static_cast<uint64_t>(int_or(d, "seed", 0));
    meta.data_epoch = int_or(d, "epoch", 0);
    meta.batch_position = int_or(d, "batch_position", 0);
  }
  meta.config_json = string_or(dict, "config", "{}");
  meta.metrics_json = string_or(dict, "metrics", "{}");
  return meta;
}

CheckpointMeta read_checkpoint_meta(const std::string& path) { return checkpoint_meta(read_checkpoint(path)); }

ModelConfig read_checkpoint_model_config(const std::string& path) {
  const auto dict = read_checkpoint(path).dict.toGenericDict();
  const auto* mc = find(dict, "model_config");
  if (!mc || !mc->isGenericDict()) {
    throw Error(codes::kCheckpointCorrupt, "checkpoint '" + path + "' has no model_config entry");
  }
  const auto d = mc->toGenericDict();
  ModelConfig c;
  for_each_model_config_field(c, [&](const char* key, auto& field) {
    if constexpr (std::is_floating_point_v<std::decay_t<decltype(field)>>) {
      if (const auto* v = find(d, key); v && v->isDouble()) field = v->toDouble();
    } else {
      field = int_or(d, key, field);
    }
  });
  return c;
}

}  // namespace asr
