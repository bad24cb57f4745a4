// FeatureStore: the usable utterances of a dataset with their features, computed by worker threads
// (feature_workers.cpp) or reused from the cache file (feature_cache.h).
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <unordered_set>

#include "asr/audio.h"
#include "asr/dataset.h"
#include "asr/errors.h"
#include "asr/vocab.h"
#include "feature_cache.h"
#include "feature_workers.h"

namespace asr {

namespace {

// Normalisation is part of what is stored, so it is part of the settings key.
constexpr const char* kNormalizationKey = " norm=utterance-meanvar-eps1e-5";

std::string text_skip_reason(const std::string& text) {
  if (text.empty()) return "empty text";
  try {
    encode_text(text);
  } catch (const Error& e) {
    return std::string("text outside the vocabulary: ") + e.what();
  }
  return {};
}

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

ComputedEntry features_of(const std::vector<float>& samples, const FbankOptions& fbank_opts) {
  ComputedEntry c;
  auto wave =
      torch::from_blob(const_cast<float*>(samples.data()), {static_cast<int64_t>(samples.size())}, torch::kFloat32);
  c.features = normalize_features(fbank(wave, fbank_opts)).contiguous();
  return c;
}

}  // namespace

// Assembles a store from records whose features live at `data`.
struct FeatureStoreBuilder {
  static std::shared_ptr<FeatureStore> build(const std::vector<CacheRecord>& records, const float* data,
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
                                               " frames after subsampling for " + std::to_string(e.tokens.size()) +
                                               " tokens");
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
  std::vector<CacheRecord> records(specs.size());
  std::vector<bool> from_old(specs.size(), false);
  std::vector<size_t> jobs;
  for (size_t i = 0; i < specs.size(); ++i) {
    CacheRecord& r = records[i];
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
  const auto compute = [&](size_t job) -> ComputedEntry {
    const CacheRecord& r = records[jobs[job]];
    ComputedEntry c;
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
  const auto consume = [&](ComputedEntry&& c) {
    CacheRecord& r = records[jobs[c.job]];
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
                                             std::to_string(ids.size()) + " ids, " + std::to_string(samples16k.size()) +
                                             " sample arrays, " + std::to_string(texts.size()) + " texts");
  }
  FeatureStoreBuilder::check_ids(ids);
  const int64_t bins = fbank_opts.num_mel_bins;
  std::vector<CacheRecord> records(ids.size());
  std::vector<float> buffer;
  for (size_t i = 0; i < ids.size(); ++i) {
    CacheRecord& r = records[i];
    r.id = ids[i];
    r.text = texts[i];
    r.skip_reason = text_skip_reason(r.text);
    if (r.skip_reason.empty() && samples16k[i].empty()) r.skip_reason = "empty audio";
    if (!r.skip_reason.empty()) continue;
    ComputedEntry c = features_of(samples16k[i], fbank_opts);
    r.frames = c.features.size(0);
    r.offset = static_cast<int64_t>(buffer.size());
    const float* p = c.features.data_ptr<float>();
    buffer.insert(buffer.end(), p, p + r.frames * bins);
  }
  auto storage = std::make_shared<std::vector<float>>(std::move(buffer));
  const float* data = storage->data();
  return FeatureStoreBuilder::build(records, data, storage, bins, static_cast<int64_t>(ids.size()), 0, "");
}

std::shared_ptr<FeatureStore> FeatureStore::from_audio_at_rates(const std::vector<std::string>& ids,
                                                                std::vector<std::vector<float>> samples,
                                                                const std::vector<double>& sample_rates,
                                                                const std::vector<std::string>& texts,
                                                                FbankOptions fbank_opts) {
  if (sample_rates.size() != samples.size()) {
    throw Error(codes::kInvalidArgument, "from_audio needs a sample rate per sample array, got " +
                                             std::to_string(sample_rates.size()) + " rates for " +
                                             std::to_string(samples.size()) + " sample arrays");
  }
  for (size_t i = 0; i < samples.size(); ++i) samples[i] = to_model_rate(std::move(samples[i]), sample_rates[i]);
  fbank_opts.sample_rate = kModelSampleRate;
  return from_audio(ids, samples, texts, fbank_opts);
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
