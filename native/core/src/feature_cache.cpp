#include "feature_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "asr/errors.h"

namespace asr {

namespace {

constexpr char kMagic[8] = {'A', 'S', 'R', 'F', 'E', 'A', 'T', '1'};
// 2: entries carry their audio segment.
constexpr uint32_t kFormatVersion = 2;
constexpr uint64_t kHeaderBytes = 64;
struct Header {
  char magic[8];
  uint32_t version, num_mel_bins;
  uint64_t data_offset, data_floats, index_offset, index_bytes, entry_count, reserved;
};
static_assert(sizeof(Header) == kHeaderBytes, "cache header must be 64 bytes");

std::string errno_text() { return std::strerror(errno); }

std::shared_ptr<const CacheMapping> map_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(kHeaderBytes)) {
    ::close(fd);
    return nullptr;
  }
  void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) return nullptr;
  auto* m = new CacheMapping{static_cast<const uint8_t*>(p), static_cast<size_t>(st.st_size)};
  return std::shared_ptr<const CacheMapping>(m, [](const CacheMapping* mm) {
    munmap(const_cast<uint8_t*>(mm->base), mm->bytes);
    delete mm;
  });
}

class IndexReader {
 public:
  IndexReader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  bool str(std::string& out) {
    uint32_t len = 0;
    if (!raw(&len, sizeof len) || static_cast<size_t>(end_ - p_) < len) return false;
    out.assign(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    return true;
  }
  bool i64(int64_t& v) { return raw(&v, sizeof v); }
  bool f64(double& v) { return raw(&v, sizeof v); }
  bool done() const { return p_ == end_; }

 private:
  bool raw(void* out, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    std::memcpy(out, p_, n);
    p_ += n;
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

CacheFile read_cache(const std::string& path, const std::string& settings, int64_t bins) {
  CacheFile cache;
  cache.mapping = map_file(path);
  if (!cache.mapping) return cache;
  Header h{};
  std::memcpy(&h, cache.mapping->base, sizeof h);
  const uint64_t size = cache.mapping->bytes;
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 || h.version != kFormatVersion ||
      h.num_mel_bins != static_cast<uint32_t>(bins) || h.data_offset != kHeaderBytes ||
      h.data_floats > (size - h.data_offset) / sizeof(float) ||
      h.index_offset != h.data_offset + h.data_floats * sizeof(float) || h.index_bytes > size - h.index_offset ||
      h.index_offset + h.index_bytes != size) {
    return cache;
  }
  IndexReader in(cache.mapping->base + h.index_offset, h.index_bytes);
  std::string file_settings;
  if (!in.str(file_settings) || file_settings != settings) return cache;
  cache.records.resize(h.entry_count > 1u << 30 ? 0 : h.entry_count);
  if (cache.records.size() != h.entry_count) return cache;
  for (auto& r : cache.records) {
    if (!in.str(r.id) || !in.str(r.wav_path) || !in.f64(r.segment_offset_s) || !in.f64(r.segment_duration_s) ||
        !in.str(r.text) || !in.str(r.skip_reason) || !in.i64(r.wav_size) || !in.i64(r.wav_mtime_ns) ||
        !in.i64(r.frames) || !in.i64(r.offset)) {
      return cache;
    }
    if (r.frames < 0 || r.offset < 0 ||
        static_cast<uint64_t>(r.offset) + static_cast<uint64_t>(r.frames) * bins > h.data_floats) {
      return cache;
    }
  }
  if (!in.done()) return cache;
  for (size_t i = 0; i < cache.records.size(); ++i) cache.by_id.emplace(cache.records[i].id, i);
  cache.data = reinterpret_cast<const float*>(cache.mapping->base + h.data_offset);
  cache.valid = true;
  return cache;
}

CacheWriter::CacheWriter(std::string path) : path_(std::move(path)) {
  std::random_device rd;
  tmp_path_ = path_ + ".tmp." + std::to_string(getpid()) + "." + std::to_string(rd());
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot create");
  const Header placeholder{};
  write_all(&placeholder, sizeof placeholder);
}

CacheWriter::~CacheWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

int64_t CacheWriter::append(const float* data, int64_t count) {
  const int64_t offset = floats_;
  write_all(data, static_cast<size_t>(count) * sizeof(float));
  floats_ += count;
  return offset;
}

void CacheWriter::commit(const std::string& settings, const std::vector<CacheRecord>& records, int64_t bins) {
  std::string index;
  const auto put_str = [&](const std::string& s) {
    const auto len = static_cast<uint32_t>(s.size());
    index.append(reinterpret_cast<const char*>(&len), sizeof len);
    index.append(s);
  };
  const auto put_i64 = [&](int64_t v) { index.append(reinterpret_cast<const char*>(&v), sizeof v); };
  const auto put_f64 = [&](double v) { index.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put_str(settings);
  for (const auto& r : records) {
    put_str(r.id), put_str(r.wav_path), put_f64(r.segment_offset_s), put_f64(r.segment_duration_s), put_str(r.text),
        put_str(r.skip_reason);
    put_i64(r.wav_size), put_i64(r.wav_mtime_ns), put_i64(r.frames), put_i64(r.offset);
  }
  write_all(index.data(), index.size());
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kFormatVersion;
  h.num_mel_bins = static_cast<uint32_t>(bins);
  h.data_offset = kHeaderBytes;
  h.data_floats = static_cast<uint64_t>(floats_);
  h.index_offset = kHeaderBytes + h.data_floats * sizeof(float);
  h.index_bytes = index.size();
  h.entry_count = records.size();
  if (pwrite(fd_, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) fail("cannot write the header of");
  if (fsync(fd_) != 0) fail("cannot fsync");
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail("cannot close");
  }
  fd_ = -1;
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) fail("cannot rename into place");
  committed_ = true;
  // The rename is durable only once the folder entry is.
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    ::close(dfd);
  }
}

void CacheWriter::fail(const std::string& what) {
  throw Error(codes::kIo, what + " feature cache file '" + tmp_path_ + "': " + errno_text() +
                              " (check that paths.cache is writable and the disk has space)");
}

void CacheWriter::write_all(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("cannot write");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace asr
