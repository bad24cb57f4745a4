// FeatureStore: the usable utterances of a dataset with their features, computed by worker threads
// (feature_workers.cpp) or reused from the cache file (feature_cache.h).
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
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

// Speed factors as they appear in cache file names and settings keys: exact for the values people write.
std::string factor_text(double f) {
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", f);
  return text;
}

// The speeds whose features a store holds: 1 first (usability and validation use it), then every other
// factor in the order given.
std::vector<double> block_speeds(const std::vector<double>& factors) {
  std::vector<double> speeds{1.0};
  for (double f : factors) {
    if (f != 1.0) speeds.push_back(f);
  }
  return speeds;
}

// One speed's records (in spec order) with their features, and what keeps those alive.
struct SpeedBlock {
  std::vector<CacheRecord> records;
  const float* data = nullptr;
  std::shared_ptr<const void> storage;
};

// One speed's cache file while open() works on it.
struct SpeedCache {
  std::string settings, path;
  CacheFile old;
  std::vector<CacheRecord> records;
  std::vector<bool> from_old;
  std::unique_ptr<CacheWriter> writer;
  std::unique_ptr<MemorySink> memory;
  FeatureSink* sink = nullptr;
  SpeedBlock block;
  bool done = false;  // the old file is reused as it is
};

}  // namespace

// Assembles a store from the records of each speed (block 0 unperturbed, then one per other factor), all in
// the order of the specs.
struct FeatureStoreBuilder {
  static std::shared_ptr<FeatureStore> build(const std::vector<SpeedBlock>& blocks, const std::vector<double>& factors,
                                             int64_t bins, int64_t computed, int64_t cached, std::string cache_path) {
    std::shared_ptr<FeatureStore> store(new FeatureStore());
    store->num_mel_bins_ = bins;
    store->computed_ = computed;
    store->cached_ = cached;
    store->cache_path_ = std::move(cache_path);
    for (const auto& b : blocks) store->storage_.push_back(b.storage);
    const SpeedBlock& base = blocks.front();
    std::vector<size_t> usable;  // the record of each utterance
    for (size_t s = 0; s < base.records.size(); ++s) {
      const CacheRecord& r = base.records[s];
      if (!r.skip_reason.empty()) {
        store->skipped_.emplace_back(r.id, r.skip_reason);
        continue;
      }
      FeatureStore::Entry e;
      e.id = r.id;
      e.text = r.text;
      e.tokens = encode_text(r.text);
      e.frames = r.frames;
      e.data = base.data + r.offset;
      if (const int64_t out_frames = output_frames(r.frames); out_frames < static_cast<int64_t>(e.tokens.size())) {
        store->skipped_.emplace_back(r.id, "too short: " + std::to_string(out_frames) +
                                               " frames after subsampling for " + std::to_string(e.tokens.size()) +
                                               " tokens");
        continue;
      }
      store->entries_.push_back(std::move(e));
      usable.push_back(s);
    }
    store->utterances_ = static_cast<int64_t>(usable.size());
    store->entries_.reserve(usable.size() * blocks.size());
    for (size_t b = 1; b < blocks.size(); ++b) {
      for (size_t u = 0; u < usable.size(); ++u) {
        FeatureStore::Entry e = store->entries_[u];
        const CacheRecord& r = blocks[b].records[usable[u]];
        if (r.skip_reason.empty() && output_frames(r.frames) >= static_cast<int64_t>(e.tokens.size())) {
          e.frames = r.frames;
          e.data = blocks[b].data + r.offset;
        }
        store->entries_.push_back(std::move(e));
      }
    }
    if (blocks.size() > 1) {
      store->speed_factors_ = factors;
      int64_t next_block = 1;
      for (double f : factors) store->choice_block_.push_back(f == 1.0 ? 0 : next_block++);
    }
    return store;
  }

  // CTC needs at least one output frame per token (repeats need more; the loss's zero_infinity covers those).
  static int64_t output_frames(int64_t frames) {
    return frames > 0 ? std::max<int64_t>(subsampled_length(frames), 0) : 0;
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

void check_speed_factors(const std::vector<double>& factors) {
  for (size_t i = 0; i < factors.size(); ++i) {
    const double f = factors[i];
    if (!(f > 0.5 && f <= 2.0)) {
      throw Error(codes::kInvalidArgument,
                  "speed factor " + factor_text(f) + " is outside (0.5, 2]; use factors near 1 such as 0.9, 1.0, 1.1");
    }
    if (std::find(factors.begin(), factors.begin() + static_cast<std::ptrdiff_t>(i), f) !=
        factors.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw Error(codes::kInvalidArgument, "speed factor " + factor_text(f) + " is listed twice; list each once");
    }
  }
}

std::shared_ptr<FeatureStore> FeatureStore::open(const std::vector<UtteranceSpec>& specs,
                                                 const FeatureStoreOptions& opts, ProgressFn progress) {
  std::vector<std::string> ids;
  ids.reserve(specs.size());
  for (const auto& s : specs) ids.push_back(s.id);
  FeatureStoreBuilder::check_ids(ids);
  check_speed_factors(opts.speed_factors);
  const int64_t bins = opts.fbank.num_mel_bins;
  fbank(torch::zeros({0}), opts.fbank);  // validates the options before any work
  if (opts.fbank.sample_rate != kModelSampleRate) {
    throw Error(codes::kInvalidArgument, "the feature store reads audio at " + std::to_string(kModelSampleRate) +
                                             " Hz; fbank.sample_rate must be " + std::to_string(kModelSampleRate));
  }
  if (!opts.cache_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(opts.cache_dir, ec);
    if (ec) {
      throw Error(codes::kIo, "cannot create the feature cache folder '" + opts.cache_dir + "': " + ec.message());
    }
  }

  // What identifies each utterance's input, the same for every speed.
  std::vector<CacheRecord> inputs(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    CacheRecord& r = inputs[i];
    r.id = specs[i].id;
    r.wav_path = specs[i].wav_path;
    r.segment_offset_s = specs[i].segment.offset_s;
    r.segment_duration_s = specs[i].segment.duration_s;
    r.text = specs[i].text;
    struct stat st {};
    if (::stat(r.wav_path.c_str(), &st) == 0) {
      r.wav_size = static_cast<int64_t>(st.st_size);
      r.wav_mtime_ns = mtime_ns(st);
    }
  }

  // Per speed: reuse the cached record of each utterance whose input matches; the rest are jobs.
  const std::vector<double> speeds = block_speeds(opts.speed_factors);
  std::vector<SpeedCache> caches(speeds.size());
  struct Job {
    size_t speed, spec;
  };
  std::vector<Job> jobs;
  for (size_t k = 0; k < speeds.size(); ++k) {
    SpeedCache& c = caches[k];
    // The unperturbed file keeps its name and key, so turning perturbation on reuses it.
    const std::string speed_key = k == 0 ? "" : " speed=" + factor_text(speeds[k]);
    c.settings = opts.fbank.cache_key() + kNormalizationKey + speed_key;
    if (!opts.cache_dir.empty()) {
      const std::string suffix = k == 0 ? "" : ".speed" + factor_text(speeds[k]);
      c.path = (std::filesystem::path(opts.cache_dir) / (opts.cache_name + suffix + ".fbank")).string();
      c.old = read_cache(c.path, c.settings, bins);
    }
    c.records = inputs;
    c.from_old.assign(specs.size(), false);
    bool rewrite = !c.old.valid || c.old.records.size() != inputs.size();
    for (size_t i = 0; i < specs.size(); ++i) {
      auto it = c.old.valid ? c.old.by_id.find(inputs[i].id) : c.old.by_id.end();
      if (it != c.old.by_id.end() && c.old.records[it->second].same_input(inputs[i])) {
        c.records[i] = c.old.records[it->second];
        c.from_old[i] = true;
        // Unchanged input, same entries in the same order: the file is already what we would write.
        rewrite = rewrite || it->second != i;
      } else {
        jobs.push_back({k, i});
        rewrite = true;
      }
    }
    if (!c.path.empty() && !rewrite) {
      c.block = {c.records, c.old.data, c.old.mapping};
      c.done = true;
    }
  }
  const auto computed = static_cast<int64_t>(jobs.size());
  const auto cached = static_cast<int64_t>(specs.size() * speeds.size()) - computed;

  for (auto& c : caches) {
    if (c.done) continue;
    if (c.path.empty()) {
      c.memory = std::make_unique<MemorySink>();
      c.sink = c.memory.get();
    } else {
      c.writer = std::make_unique<CacheWriter>(c.path);
      c.sink = c.writer.get();
    }
    for (size_t i = 0; i < c.records.size(); ++i) {
      if (c.from_old[i])
        c.records[i].offset = c.sink->append(c.old.data + c.records[i].offset, c.records[i].frames * bins);
    }
  }

  const FbankOptions fbank_opts = opts.fbank;
  const auto compute = [&](size_t job) -> ComputedEntry {
    const CacheRecord& r = inputs[jobs[job].spec];
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
        samples = load_audio_16k(r.wav_path, speeds[jobs[job].speed], {r.segment_offset_s, r.segment_duration_s});
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
    SpeedCache& cache = caches[jobs[c.job].speed];
    CacheRecord& r = cache.records[jobs[c.job].spec];
    r.skip_reason = c.skip_reason;
    r.frames = c.features.defined() ? c.features.size(0) : 0;
    r.offset = r.frames > 0 ? cache.sink->append(c.features.data_ptr<float>(), r.frames * bins) : 0;
  };
  run_workers(jobs.size(), opts.threads, compute, consume, progress);

  std::vector<SpeedBlock> blocks;
  for (auto& c : caches) {
    if (c.memory) {
      auto buffer = std::make_shared<std::vector<float>>(std::move(c.memory->buffer));
      c.block = {c.records, buffer->data(), buffer};
    } else if (c.writer) {
      c.writer->commit(c.settings, c.records, bins);
      c.old = CacheFile{};  // drop the old mapping before mapping the new file
      CacheFile fresh = read_cache(c.path, c.settings, bins);
      if (!fresh.valid) {
        throw Error(codes::kIo, "the feature cache file '" + c.path + "' just written does not read back; " +
                                    "check the disk and delete the file");
      }
      c.block = {fresh.records, fresh.data, fresh.mapping};
    }
    blocks.push_back(std::move(c.block));
  }
  return FeatureStoreBuilder::build(blocks, opts.speed_factors, bins, computed, cached, caches.front().path);
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
  return FeatureStoreBuilder::build({{records, data, storage}}, {}, bins, static_cast<int64_t>(ids.size()), 0, "");
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

int64_t FeatureStore::variant(int64_t utterance, size_t choice) const {
  if (utterance < 0 || utterance >= utterances_) {
    throw Error(codes::kInvalidArgument, "utterance " + std::to_string(utterance) + " is outside the store of " +
                                             std::to_string(utterances_) + " utterances");
  }
  const size_t choices = std::max<size_t>(choice_block_.size(), 1);
  if (choice >= choices) {
    throw Error(codes::kInvalidArgument, "speed choice " + std::to_string(choice) + " is outside the store's " +
                                             std::to_string(choices) + " speed factors");
  }
  return (choice_block_.empty() ? 0 : choice_block_[choice]) * utterances_ + utterance;
}

const float* FeatureStore::feature_data(int64_t i) const { return at(i).data; }

torch::Tensor FeatureStore::features(int64_t i) const {
  const Entry& e = at(i);
  return torch::from_blob(const_cast<float*>(e.data), {e.frames, num_mel_bins_}, torch::kFloat32).clone();
}

int64_t FeatureStore::total_frames() const {
  int64_t total = 0;
  for (int64_t i = 0; i < utterances_; ++i) total += entries_[static_cast<size_t>(i)].frames;
  return total;
}

}  // namespace asr
