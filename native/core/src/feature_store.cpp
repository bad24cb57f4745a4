// FeatureStore: computing features with worker threads and the one-file feature cache.
//
// Cache file layout (host byte order; the magic doubles as the byte-order check):
//   header (64 bytes): magic "ASRFEAT1", u32 version, u32 num_mel_bins, u64 data_offset, u64 data_floats,
//                      u64 index_offset, u64 index_bytes, u64 entry_count, u64 reserved
//   data:   float32 features of every entry, each (frames, bins) row-major, starting at data_offset (64)
//   index:  str settings, then per entry: str id, str wav_path, str text, str skip_reason,
//           i64 wav_size, i64 wav_mtime_ns, i64 frames, i64 offset (floats from data_offset)
//   (str = u32 length + bytes). The index sits after the data so that features can be streamed to disk as
//   workers finish them, without holding a dataset's features in memory.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "asr/audio.h"
#include "asr/compute_thread.h"
#include "asr/dataset.h"
#include "asr/errors.h"
#include "asr/vocab.h"

namespace asr {

namespace {

constexpr char kMagic[8] = {'A', 'S', 'R', 'F', 'E', 'A', 'T', '1'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint64_t kHeaderBytes = 64;
// Normalisation is part of what is stored, so it is part of the settings key.
constexpr const char* kNormalizationKey = " norm=utterance-meanvar-eps1e-5";

struct Header {
  char magic[8];
  uint32_t version, num_mel_bins;
  uint64_t data_offset, data_floats, index_offset, index_bytes, entry_count, reserved;
};
static_assert(sizeof(Header) == kHeaderBytes, "cache header must be 64 bytes");

std::string errno_text() { return std::strerror(errno); }

// One cache record: what identifies the input, and what was computed from it.
struct Record {
  std::string id, wav_path, text, skip_reason;
  int64_t wav_size = -1, wav_mtime_ns = 0;  // -1: the WAV did not exist
  int64_t frames = 0, offset = 0;
  bool same_input(const Record& o) const {
    return id == o.id && wav_path == o.wav_path && text == o.text && wav_size == o.wav_size &&
           wav_mtime_ns == o.wav_mtime_ns;
  }
};

struct Mapping {
  const uint8_t* base = nullptr;
  size_t bytes = 0;
};

std::shared_ptr<const Mapping> map_file(const std::string& path) {
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
  auto* m = new Mapping{static_cast<const uint8_t*>(p), static_cast<size_t>(st.st_size)};
  return std::shared_ptr<const Mapping>(m, [](const Mapping* mm) {
    munmap(const_cast<uint8_t*>(mm->base), mm->bytes);
    delete mm;
  });
}

// A parsed cache file; `valid` is false for a missing, foreign, truncated or differently configured file,
// which is then simply recomputed.
struct CacheFile {
  std::shared_ptr<const Mapping> mapping;
  std::vector<Record> records;
  std::unordered_map<std::string, size_t> by_id;
  const float* data = nullptr;
  bool valid = false;
};

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
    if (!in.str(r.id) || !in.str(r.wav_path) || !in.str(r.text) || !in.str(r.skip_reason) || !in.i64(r.wav_size) ||
        !in.i64(r.wav_mtime_ns) || !in.i64(r.frames) || !in.i64(r.offset)) {
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
  explicit CacheWriter(std::string path) : path_(std::move(path)) {
    std::random_device rd;
    tmp_path_ = path_ + ".tmp." + std::to_string(getpid()) + "." + std::to_string(rd());
    fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create");
    const Header placeholder{};
    write_all(&placeholder, sizeof placeholder);
  }
  ~CacheWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_path_.c_str());
  }

  int64_t append(const float* data, int64_t count) override {
    const int64_t offset = floats_;
    write_all(data, static_cast<size_t>(count) * sizeof(float));
    floats_ += count;
    return offset;
  }

  void commit(const std::string& settings, const std::vector<Record>& records, int64_t bins) {
    std::string index;
    const auto put_str = [&](const std::string& s) {
      const auto len = static_cast<uint32_t>(s.size());
      index.append(reinterpret_cast<const char*>(&len), sizeof len);
      index.append(s);
    };
    const auto put_i64 = [&](int64_t v) { index.append(reinterpret_cast<const char*>(&v), sizeof v); };
    put_str(settings);
    for (const auto& r : records) {
      put_str(r.id), put_str(r.wav_path), put_str(r.text), put_str(r.skip_reason);
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

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw Error(codes::kIo, what + " feature cache file '" + tmp_path_ + "': " + errno_text() +
                                " (check that paths.cache is writable and the disk has space)");
  }
  void write_all(const void* data, size_t n) {
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

  std::string path_, tmp_path_;
  int fd_ = -1;
  int64_t floats_ = 0;
  bool committed_ = false;
};

// The outcome of computing one entry.
struct Computed {
  size_t job = 0;
  std::string skip_reason;
  torch::Tensor features;  // (frames, bins) normalised, contiguous float32; undefined when skipped
};

std::string text_skip_reason(const std::string& text) {
  if (text.empty()) return "empty text";
  try {
    encode_text(text);
  } catch (const Error& e) {
    return std::string("text outside the vocabulary: ") + e.what();
  }
  return {};
}

// Runs compute(job) for every job on `threads` workers; the calling thread receives the results in
// completion order through consume(), and reports progress.
void run_workers(size_t jobs, int threads, const std::function<Computed(size_t)>& compute,
                 const std::function<void(Computed&&)>& consume, const ProgressFn& progress) {
  if (jobs == 0) return;
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t n_workers = std::min<size_t>(jobs, static_cast<size_t>(threads > 0 ? threads : hw));
  std::atomic<size_t> next{0};
  std::atomic<bool> abort{false};
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<Computed> results;
  std::exception_ptr worker_error;

  const auto work = [&] {
    limit_this_thread_to_one_openmp_thread();
    for (size_t job; !abort && (job = next++) < jobs;) {
      try {
        Computed c = compute(job);
        c.job = job;
        std::lock_guard<std::mutex> lock(mutex);
        results.push_back(std::move(c));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!worker_error) worker_error = std::current_exception();
        abort = true;
      }
      cv.notify_one();
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(n_workers);
  for (size_t i = 0; i < n_workers; ++i) workers.emplace_back(work);

  std::exception_ptr error;
  try {
    if (progress) progress(0, static_cast<int64_t>(jobs));
    for (size_t done = 0; done < jobs;) {
      std::deque<Computed> batch;
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return !results.empty() || worker_error; });
        if (worker_error) std::rethrow_exception(worker_error);
        batch.swap(results);
      }
      for (auto& c : batch) consume(std::move(c));
      done += batch.size();
      if (progress) progress(static_cast<int64_t>(done), static_cast<int64_t>(jobs));
    }
  } catch (...) {
    error = std::current_exception();
    abort = true;
  }
  for (auto& t : workers) t.join();
  if (error) std::rethrow_exception(error);
}

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

Computed features_of(const std::vector<float>& samples, const FbankOptions& fbank_opts) {
  Computed c;
  auto wave = torch::from_blob(const_cast<float*>(samples.data()), {static_cast<int64_t>(samples.size())},
                               torch::kFloat32);
  c.features = normalize_features(fbank(wave, fbank_opts)).contiguous();
  return c;
}

}  // namespace

// Assembles a store from records whose features live at `data`.
struct FeatureStoreBuilder {
  static std::shared_ptr<FeatureStore> build(const std::vector<Record>& records, const float* data,
                                             std::shared_ptr<const void> storage, int64_t bins, int64_t computed,
                                             int64_t cached, std::string cache_path) {
    std::shared_ptr<FeatureStore> store(new FeatureStore());
    store->num_mel_bins_ = bins;
    store->storage_ = std::move(storage);
    store->data_ = data;
    store->computed_ = computed;
    store->cached_ = cached;
    store->cache_path_ = std::move(cache_path);
    for (const auto& r : records) {
      if (!r.skip_reason.empty()) {
        store->skipped_.emplace_back(r.id, r.skip_reason);
        continue;
      }
      FeatureStore::Entry e;
      e.id = r.id;
      e.text = r.text;
      e.tokens = encode_text(r.text);
      e.frames = r.frames;
      e.offset = r.offset;
      // CTC needs at least one output frame per token (repeats need more; the loss's zero_infinity covers those).
      const int64_t out_frames = r.frames > 0 ? subsampled_length(r.frames) : 0;
      if (out_frames < static_cast<int64_t>(e.tokens.size())) {
        store->skipped_.emplace_back(r.id, "too short: " + std::to_string(std::max<int64_t>(out_frames, 0)) +
                                               " frames after subsampling for " +
                                               std::to_string(e.tokens.size()) + " tokens");
        continue;
      }
      store->entries_.push_back(std::move(e));
    }
    return store;
  }

  static void check_ids(const std::vector<std::string>& ids) {
    std::unordered_set<std::string> seen;
    for (const auto& id : ids) {
      if (!seen.insert(id).second) {
        throw Error(codes::kInvalidArgument, "utterance id '" + id + "' appears twice; ids must be unique");
      }
    }
  }
};

std::shared_ptr<FeatureStore> FeatureStore::open(const std::vector<UtteranceSpec>& specs,
                                                 const FeatureStoreOptions& opts, ProgressFn progress) {
  std::vector<std::string> ids;
  ids.reserve(specs.size());
  for (const auto& s : specs) ids.push_back(s.id);
  FeatureStoreBuilder::check_ids(ids);
  const int64_t bins = opts.fbank.num_mel_bins;
  fbank(torch::zeros({0}), opts.fbank);  // validates the options before any work
  if (opts.fbank.sample_rate != kModelSampleRate) {
    throw Error(codes::kInvalidArgument, "the feature store reads audio at " + std::to_string(kModelSampleRate) +
                                             " Hz; fbank.sample_rate must be " + std::to_string(kModelSampleRate));
  }
  const std::string settings = opts.fbank.cache_key() + kNormalizationKey;

  std::string cache_path;
  CacheFile old;
  if (!opts.cache_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(opts.cache_dir, ec);
    if (ec) {
      throw Error(codes::kIo, "cannot create the feature cache folder '" + opts.cache_dir + "': " + ec.message());
    }
    cache_path = (std::filesystem::path(opts.cache_dir) / (opts.cache_name + ".fbank")).string();
    old = read_cache(cache_path, settings, bins);
  }

  // Identify each utterance's input; reuse the cached record when it matches.
  std::vector<Record> records(specs.size());
  std::vector<bool> from_old(specs.size(), false);
  std::vector<size_t> jobs;
  for (size_t i = 0; i < specs.size(); ++i) {
    Record& r = records[i];
    r.id = specs[i].id;
    r.wav_path = specs[i].wav_path;
    r.text = specs[i].text;
    struct stat st {};
    if (::stat(r.wav_path.c_str(), &st) == 0) {
      r.wav_size = static_cast<int64_t>(st.st_size);
      r.wav_mtime_ns = mtime_ns(st);
    }
    auto it = old.valid ? old.by_id.find(r.id) : old.by_id.end();
    if (it != old.by_id.end() && old.records[it->second].same_input(r)) {
      r = old.records[it->second];
      from_old[i] = true;
    } else {
      jobs.push_back(i);
    }
  }
  const auto cached = static_cast<int64_t>(specs.size() - jobs.size());
  const auto computed = static_cast<int64_t>(jobs.size());

  // Unchanged input, same entries in the same order: the file is already what we would write.
  bool rewrite = !jobs.empty() || !old.valid || old.records.size() != records.size();
  for (size_t i = 0; !rewrite && i < records.size(); ++i) rewrite = old.records[i].id != records[i].id;
  if (!cache_path.empty() && !rewrite) {
    const float* data = old.data;
    return FeatureStoreBuilder::build(records, data, old.mapping, bins, computed, cached, cache_path);
  }

  std::unique_ptr<CacheWriter> writer;
  std::unique_ptr<MemorySink> memory;
  FeatureSink* sink;
  if (cache_path.empty()) {
    memory = std::make_unique<MemorySink>();
    sink = memory.get();
  } else {
    writer = std::make_unique<CacheWriter>(cache_path);
    sink = writer.get();
  }
  for (size_t i = 0; i < records.size(); ++i) {
    if (from_old[i]) records[i].offset = sink->append(old.data + records[i].offset, records[i].frames * bins);
  }

  const FbankOptions fbank_opts = opts.fbank;
  const auto compute = [&](size_t job) -> Computed {
    const Record& r = records[jobs[job]];
    Computed c;
    if (auto reason = text_skip_reason(r.text); !reason.empty()) {
      c.skip_reason = reason;
    } else if (r.wav_size < 0) {
      c.skip_reason = "missing wav";
    } else if (r.wav_size == 0) {
      c.skip_reason = "empty wav";
    } else {
      std::vector<float> samples;
      try {
        samples = load_audio_16k(r.wav_path);
      } catch (const Error& e) {
        if (e.code() != codes::kAudioRead) throw;
        c.skip_reason = std::string(e.what()).find(kAudioHasNoSamples) != std::string::npos
                            ? "empty wav"
                            : std::string("unreadable wav: ") + e.what();
        return c;
      }
      c = features_of(samples, fbank_opts);
    }
    return c;
  };
  const auto consume = [&](Computed&& c) {
    Record& r = records[jobs[c.job]];
    r.skip_reason = c.skip_reason;
    r.frames = c.features.defined() ? c.features.size(0) : 0;
    r.offset = r.frames > 0 ? sink->append(c.features.data_ptr<float>(), r.frames * bins) : 0;
  };
  run_workers(jobs.size(), opts.threads, compute, consume, progress);

  if (memory) {
    auto buffer = std::make_shared<std::vector<float>>(std::move(memory->buffer));
    const float* data = buffer->data();
    return FeatureStoreBuilder::build(records, data, buffer, bins, computed, cached, "");
  }
  writer->commit(settings, records, bins);
  old = CacheFile{};  // drop the old mapping before mapping the new file
  CacheFile fresh = read_cache(cache_path, settings, bins);
  if (!fresh.valid) {
    throw Error(codes::kIo, "the feature cache file '" + cache_path + "' just written does not read back; " +
                                "check the disk and delete the file");
  }
  return FeatureStoreBuilder::build(fresh.records, fresh.data, fresh.mapping, bins, computed, cached, cache_path);
}

std::shared_ptr<FeatureStore> FeatureStore::from_audio(const std::vector<std::string>& ids,
                                                       const std::vector<std::vector<float>>& samples16k,
                                                       const std::vector<std::string>& texts,
                                                       const FbankOptions& fbank_opts) {
  if (ids.size() != samples16k.size() || ids.size() != texts.size()) {
    throw Error(codes::kInvalidArgument, "from_audio needs as many sample arrays and texts as ids, got " +
                                             std::to_string(ids.size()) + " ids, " +
                                             std::to_string(samples16k.size()) + " sample arrays, " +
                                             std::to_string(texts.size()) + " texts");
  }
  FeatureStoreBuilder::check_ids(ids);
  const int64_t bins = fbank_opts.num_mel_bins;
  std::vector<Record> records(ids.size());
  std::vector<float> buffer;
  for (size_t i = 0; i < ids.size(); ++i) {
    Record& r = records[i];
    r.id = ids[i];
    r.text = texts[i];
    r.skip_reason = text_skip_reason(r.text);
    if (r.skip_reason.empty() && samples16k[i].empty()) r.skip_reason = "empty audio";
    if (!r.skip_reason.empty()) continue;
    Computed c = features_of(samples16k[i], fbank_opts);
    r.frames = c.features.size(0);
    r.offset = static_cast<int64_t>(buffer.size());
    const float* p = c.features.data_ptr<float>();
    buffer.insert(buffer.end(), p, p + r.frames * bins);
  }
  auto storage = std::make_shared<std::vector<float>>(std::move(buffer));
  const float* data = storage->data();
  return FeatureStoreBuilder::build(records, data, storage, bins, static_cast<int64_t>(ids.size()), 0, "");
}

const FeatureStore::Entry& FeatureStore::at(int64_t i) const {
  if (i < 0 || i >= size()) {
    throw Error(codes::kInvalidArgument,
                "utterance index " + std::to_string(i) + " is outside the store of " + std::to_string(size()));
  }
  return entries_[static_cast<size_t>(i)];
}

const float* FeatureStore::feature_data(int64_t i) const { return data_ + at(i).offset; }

torch::Tensor FeatureStore::features(int64_t i) const {
  const Entry& e = at(i);
  return torch::from_blob(const_cast<float*>(data_ + e.offset), {e.frames, num_mel_bins_}, torch::kFloat32).clone();
}

int64_t FeatureStore::total_frames() const {
  int64_t total = 0;
  for (const auto& e : entries_) total += e.frames;
  return total;
}

}  // namespace asr
