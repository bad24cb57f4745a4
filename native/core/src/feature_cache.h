#pragma once
// The feature cache file (one per dataset split) and where computed features go; used by feature_store.cpp.
//
// Cache file layout (host byte order; the magic doubles as the byte-order check):
//   header (64 bytes): magic "ASRFEAT1", u32 version, u32 num_mel_bins, u64 data_offset, u64 data_floats,
//                      u64 index_offset, u64 index_bytes, u64 entry_count, u64 reserved
//   data:   float32 features of every entry, each (frames, bins) row-major, starting at data_offset (64)
//   index:  str settings, then per entry: str id, str wav_path, f64 segment offset_s, f64 segment duration_s,
//           str text, str skip_reason, i64 wav_size, i64 wav_mtime_ns, i64 frames, i64 offset (floats from
//           data_offset)
//   (str = u32 length + bytes). The index sits after the data so that features can be streamed to disk as
//   workers finish them, without holding a dataset's features in memory.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace asr {

// One cache record: what identifies the input, and what was computed from it.
struct CacheRecord {
  std::string id, wav_path, text, skip_reason;
  double segment_offset_s = 0, segment_duration_s = 0;  // UtteranceSpec::segment: one file holds many entries
  int64_t wav_size = -1, wav_mtime_ns = 0;              // -1: the WAV did not exist
  int64_t frames = 0, offset = 0;
  bool same_input(const CacheRecord& o) const {
    return id == o.id && wav_path == o.wav_path && segment_offset_s == o.segment_offset_s &&
           segment_duration_s == o.segment_duration_s && text == o.text && wav_size == o.wav_size &&
           wav_mtime_ns == o.wav_mtime_ns;
  }
};

struct CacheMapping {
  const uint8_t* base = nullptr;
  size_t bytes = 0;
};

// A parsed cache file; `valid` is false for a missing, foreign, truncated or differently configured file,
// which is then simply recomputed.
struct CacheFile {
  std::shared_ptr<const CacheMapping> mapping;
  std::vector<CacheRecord> records;
  std::unordered_map<std::string, size_t> by_id;
  const float* data = nullptr;
  bool valid = false;
};

// Maps and parses the file at `path`; an invalid CacheFile when it is missing, foreign, truncated, or was
// written with other `settings` or `bins`.
CacheFile read_cache(const std::string& path, const std::string& settings, int64_t bins);

// Where computed features go: appended to the new cache file, or to memory for an uncached store.
class FeatureSink {
 public:
  virtual ~FeatureSink() = default;
  virtual int64_t append(const float* data, int64_t count) = 0;  // returns the offset in floats
};

class MemorySink : public FeatureSink {
 public:
  int64_t append(const float* data, int64_t count) override {
    const auto offset = static_cast<int64_t>(buffer.size());
    buffer.insert(buffer.end(), data, data + count);
    return offset;
  }
  std::vector<float> buffer;
};

// Writes a new cache file under a temporary name; commit() makes it the cache atomically.
class CacheWriter : public FeatureSink {
 public:
  explicit CacheWriter(std::string path);
  ~CacheWriter() override;
  int64_t append(const float* data, int64_t count) override;
  void commit(const std::string& settings, const std::vector<CacheRecord>& records, int64_t bins);

 private:
  [[noreturn]] void fail(const std::string& what);
  void write_all(const void* data, size_t n);

  std::string path_, tmp_path_;
  int fd_ = -1;
  int64_t floats_ = 0;
  bool committed_ = false;
};

}  // namespace asr
