#include "asr/checkpoint.h"

#include <c10/core/CPUAllocator.h>
#include <caffe2/serialize/versions.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/csrc/jit/serialization/unpickler.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <type_traits>

#include "asr/checkpoint_zip.h"
#include "asr/errors.h"
#include "asr/file_lock.h"

namespace asr {

namespace {

// torch::pickle_save's folder name and the record format version LibTorch 1.13's writer stamps.
constexpr const char* kArchive = "archive";
constexpr const char* kArchiveVersion = "3\n";

struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

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

// torch.load's reading of the archive: the folder is the first record's; data.pkl is unpickled with each
// tensor storage allocated but not filled, then the storages are read from the file straight into that
// memory, in file order, each checked against its CRC-32.
c10::IValue unpickle_archive(int fd, const std::string& path, uint64_t size) {
  const zip::Reader zip(fd, path, size);
  if (zip.entries().empty()) throw zip::FormatError("the zip archive has no records");
  const std::string& first = zip.entries().front().name;
  const std::string folder = first.substr(0, first.find('/') + 1);
  if (folder.empty()) throw zip::FormatError("record '" + first + "' is not inside an archive folder");
  auto record = [&](const std::string& name) -> const zip::Entry& {
    const zip::Entry* entry = zip.find(folder + name);
    if (entry == nullptr) throw zip::FormatError("it has no record '" + folder + name + "'");
    return *entry;
  };

  const zip::Entry* newer_version = zip.find(folder + ".data/version");
  const zip::Entry& version_entry = newer_version ? *newer_version : record("version");
  if (version_entry.size > 32) throw zip::FormatError("its version record is damaged");
  std::string version_text(version_entry.size, '\0');
  zip.read(version_entry, version_text.data());
  uint64_t version = 0;
  try {
    version = std::stoull(version_text);
  } catch (const std::exception&) {
    throw zip::FormatError("its version record is damaged");
  }
  if (version < caffe2::serialize::kMinSupportedFileFormatVersion ||
      version > caffe2::serialize::kMaxSupportedFileFormatVersion) {
    throw zip::FormatError("its record format version " + std::to_string(version) + " is not one LibTorch " +
                           TORCH_VERSION + " reads");
  }

  const zip::Entry& pickle_entry = record("data.pkl");
  std::string pickle(pickle_entry.size, '\0');
  zip.read(pickle_entry, pickle.data());
  size_t consumed = 0;
  auto read_pickle = [&](char* into, size_t n) -> size_t {
    n = std::min(n, pickle.size() - consumed);
    std::memcpy(into, pickle.data() + consumed, n);
    consumed += n;
    return n;
  };
  // The pending list shares each storage's memory, so a storage the pickle drops again is never written
  // after it was freed.
  using Block = std::shared_ptr<at::DataPtr>;
  std::vector<std::pair<const zip::Entry*, Block>> pending;
  auto allocate_record = [&](const std::string& key) {
    const zip::Entry& entry = record("data/" + key);
    auto block = std::make_shared<at::DataPtr>(c10::GetCPUAllocator()->allocate(entry.size));
    void* data = block->get();
    pending.emplace_back(&entry, block);
    return at::DataPtr(
        data, new Block(std::move(block)), [](void* ctx) { delete static_cast<Block*>(ctx); }, c10::Device(c10::kCPU));
  };
  torch::jit::Unpickler unpickler(read_pickle, nullptr, nullptr, allocate_record, c10::nullopt);
  unpickler.set_version(version);
  c10::IValue value = unpickler.parse_ivalue();
  std::sort(pending.begin(), pending.end(),
            [](const auto& a, const auto& b) { return a.first->header_offset < b.first->header_offset; });
  for (const auto& [entry, block] : pending) zip.read(*entry, block->get());
  return value;
}

}  // namespace

void write_checkpoint(const std::string& path, const CheckpointSnapshot& snapshot, uint64_t zip64_from) {
  // torch::pickle_save's format (zip of data.pkl, data/<i> per tensor storage, version), streamed into the
  // temp file from the tensors' own memory.
  std::vector<char> pickle;
  // Untagged: TorchScript's type tags (torch.jit._pickle.restore_type_tag) are globals Python's
  // torch.load(weights_only=True), the default since torch 2.6, refuses; the reader needs none of them.
  torch::jit::Pickler pickler([&](const char* data, size_t size) { pickle.insert(pickle.end(), data, data + size); },
                              nullptr, nullptr, nullptr, nullptr, /*tag_aggregates=*/false);
  try {
    pickler.protocol();
    pickler.pushIValue(snapshot.dict);
    pickler.stop();
  } catch (const c10::Error& e) {
    throw Error(codes::kInternal, "cannot serialise checkpoint for '" + path + "': " + e.what_without_backtrace());
  }
  const std::string dir = parent_dir(path);
  // The temp file stays locked until it is renamed into place: a run that finds it unlocked later knows
  // its writer was killed mid-save and reclaims the space (remove_abandoned_file).
  std::random_device entropy;
  std::string tmp;
  std::optional<FileLock> temp;
  while (!temp) {
    tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(entropy());
    try {
      temp = FileLock::create_exclusive(tmp);
    } catch (const Error& e) {
      throw Error(codes::kIo, "cannot write checkpoint '" + path + "': " + e.what());
    }
  }
  const int fd = temp->fd();
  try {
    zip::Writer writer(fd, path, zip64_from);
    writer.add(std::string(kArchive) + "/data.pkl", pickle.data(), pickle.size());
    const auto& tensors = pickler.tensorData();
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto bytes = torch::jit::getWriteableTensorData(tensors[i]);
      writer.add(std::string(kArchive) + "/data/" + std::to_string(i), bytes.data(), bytes.sizeInBytes());
    }
    writer.add(std::string(kArchive) + "/version", kArchiveVersion, std::strlen(kArchiveVersion));
    writer.finish();
    if (::fsync(fd) != 0) io_error("cannot sync checkpoint", path, errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) io_error("cannot rename checkpoint into place at", path, errno);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  temp->release();
  fsync_dir(dir);
}

void write_checkpoint(const std::string& path, const CheckpointSnapshot& snapshot) {
  write_checkpoint(path, snapshot, zip::kZip64From);
}

CheckpointSnapshot read_checkpoint(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) throw Error(codes::kCheckpointNotFound, "checkpoint '" + path + "' does not exist");
    io_error("cannot open checkpoint", path, errno);
  }
  const FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) io_error("cannot read checkpoint", path, errno);
  c10::IValue value;
  try {
    value = unpickle_archive(fd, path, static_cast<uint64_t>(st.st_size));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // zip::FormatError or the unpickler's c10::Error: truncated, foreign or garbage bytes.
    std::string reason = e.what();
    if (const auto* ce = dynamic_cast<const c10::Error*>(&e)) reason = ce->what_without_backtrace();
    throw Error(codes::kCheckpointCorrupt, "checkpoint '" + path + "' (" + std::to_string(st.st_size) +
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
