#pragma once
// The feature store (one cache file per dataset), epoch batch plans, collation and prefetch.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "asr/audio.h"
#include "asr/batch.h"
#include "asr/features.h"

namespace asr {

struct UtteranceSpec {
  std::string id;
  std::string wav_path;  // any format read_audio reads (audio.h)
  std::string text;      // normalised (vocab.h); the store encodes it
  AudioSegment segment;  // the stretch of wav_path this utterance is; whole_file() by default
};

struct FeatureStoreOptions {
  std::string cache_dir;                // created if missing; empty: compute in memory, no cache file
  std::string cache_name = "features";  // file <cache_dir>/<cache_name>.fbank — one per dataset/split
  FbankOptions fbank;
  int threads = 0;  // worker threads computing features; 0: all cores
  // Speed perturbation (load_audio_16k's speed): the factors plan_epoch draws from, each in (0.5, 2], no
  // repeats. Empty or {1.0}: off. Each factor other than 1 gets its own cache file,
  // <cache_name>.speed<factor>.fbank, with the factor in its settings key.
  std::vector<double> speed_factors;
};

// Throws E_INVALID_ARGUMENT naming the factor unless every factor is in (0.5, 2] and none repeats.
void check_speed_factors(const std::vector<double>& factors);

// done/total count the entries this open computes (reused ones are not counted); called on the thread that
// called open(), at (0, total) first and (total, total) last, only when total > 0. Throwing from it stops the
// workers, writes nothing, and the exception leaves open().
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

// All usable utterances of a dataset with their normalised (normalize_features) fbank features.
// Index i < utterances() runs over the usable utterances in the order of the specs given to open(), at their
// own speed; skipped ones are not indexed. With speed factors, indices from utterances() on hold the
// perturbed variants (variant()); an index names one utterance at one speed everywhere (frames, features,
// collate, the trainer), and id/text/tokens are the utterance's. size() counts every index.
// Immutable once built, so it is safe to read from several threads.
class FeatureStore {
 public:
  // Reads <cache_dir>/<cache_name>.fbank if present. An entry is reused when its id, wav path, segment, text
  // and the WAV's size and mtime (ns) all match and the file's feature settings (FbankOptions::cache_key) match;
  // everything else is computed with `threads` workers. When anything was computed (or the cache held
  // other entries) the file is rewritten atomically (tmp + fsync + rename + folder fsync) and then
  // memory-mapped. Skipped utterances (reasons below) are remembered in the file too, so a second open of
  // unchanged input computes nothing and reads no WAV.
  // Usability is the unperturbed utterance's: a variant too short for its tokens stands in with the
  // unperturbed features (its frames then equal the utterance's).
  // Skip reasons: "missing wav", "empty wav", "unreadable wav: <cause>", "empty text",
  // "text outside the vocabulary: <cause>", "too short: <T'> frames after subsampling for <L> tokens".
  // Throws asr::Error(E_IO) when the cache cannot be written, E_INVALID_ARGUMENT for bad options or
  // duplicate ids.
  static std::shared_ptr<FeatureStore> open(const std::vector<UtteranceSpec>& specs, const FeatureStoreOptions& opts,
                                            ProgressFn progress = {});

  // In memory, no cache: for tests and the README example. samples16k are mono 16 kHz in [-1, 1].
  // The same skip rules apply (except the WAV ones).
  static std::shared_ptr<FeatureStore> from_audio(const std::vector<std::string>& ids,
                                                  const std::vector<std::vector<float>>& samples16k,
                                                  const std::vector<std::string>& texts,
                                                  const FbankOptions& fbank = {});

  // from_audio for samples at any rate: each utterance is resampled to 16 kHz first (to_model_rate, audio.h)
  // and its features computed at 16 kHz (fbank.sample_rate is taken as 16 kHz).
  static std::shared_ptr<FeatureStore> from_audio_at_rates(const std::vector<std::string>& ids,
                                                           std::vector<std::vector<float>> samples,
                                                           const std::vector<double>& sample_rates,
                                                           const std::vector<std::string>& texts,
                                                           FbankOptions fbank = {});

  int64_t size() const { return static_cast<int64_t>(entries_.size()); }  // utterances() * variants
  int64_t utterances() const { return utterances_; }
  // The factors plan_epoch draws from (FeatureStoreOptions::speed_factors); empty when perturbation is off.
  const std::vector<double>& speed_factors() const { return speed_factors_; }
  // Index of utterance u (< utterances()) at speed_factors()[choice].
  int64_t variant(int64_t utterance, size_t choice) const;
  int64_t num_mel_bins() const { return num_mel_bins_; }
  int64_t frames(int64_t i) const { return at(i).frames; }
  const std::string& id(int64_t i) const { return at(i).id; }
  const std::string& text(int64_t i) const { return at(i).text; }
  const std::vector<int64_t>& tokens(int64_t i) const { return at(i).tokens; }
  // (frames(i), num_mel_bins) float32, a copy (the mapped file stays read-only).
  torch::Tensor features(int64_t i) const;
  // Pointer to frames(i) * num_mel_bins() contiguous floats, valid while the store lives.
  const float* feature_data(int64_t i) const;
  int64_t total_frames() const;  // of the utterances at their own speed

  // Entries (one per utterance and speed) this open computed / reused from the cache files, skips included.
  int64_t computed() const { return computed_; }
  int64_t cached() const { return cached_; }
  const std::vector<std::pair<std::string, std::string>>& skipped() const { return skipped_; }  // (id, reason)
  // The unperturbed features' file; empty for in-memory stores.
  const std::string& cache_path() const { return cache_path_; }

  struct Entry {
    std::string id, text;
    std::vector<int64_t> tokens;
    int64_t frames = 0;
    const float* data = nullptr;  // frames * num_mel_bins floats in one of storage_
  };

 private:
  FeatureStore() = default;
  const Entry& at(int64_t i) const;
  friend struct FeatureStoreBuilder;

  std::vector<Entry> entries_;
  int64_t utterances_ = 0;
  std::vector<double> speed_factors_;
  std::vector<int64_t> choice_block_;  // speed_factors_[c]'s variants start at choice_block_[c] * utterances_
  int64_t num_mel_bins_ = 80;
  std::vector<std::shared_ptr<const void>> storage_;  // keep the mappings or in-memory buffers alive
  int64_t computed_ = 0, cached_ = 0;
  std::vector<std::pair<std::string, std::string>> skipped_;
  std::string cache_path_;
};

struct BatchPlanOptions {
  int64_t batch_size = 16;  // utterances per batch (upper bound when max_frames is set too)
  int64_t max_frames = 0;   // >0: a batch's padded size (rows * longest frames) stays within this budget
  uint64_t seed = 0;
  int64_t bucket_chunk = 0;  // utterances sorted together; 0: 32 batches' worth (32 * batch_size)
  bool shuffle = true;       // false: store order (then sorted within chunks if bucket), batches in order
  bool bucket = true;        // false: cut the (shuffled) order into batches as it is
};

// Which of `choices` speed factors utterance u trains at in `epoch`: a hash of (seed, epoch, u), uniform,
// the same on every platform and at any world size, so a resume replays it.
size_t speed_choice(uint64_t seed, int64_t epoch, int64_t utterance, size_t choices);

// The epoch's batches: permute the utterances (seeded from (seed, epoch) with std::mt19937_64 and our own
// unbiased bounded draw, so every platform gets the same order), put each at its speed_choice variant when
// the store has speed factors, sort by length within chunks, cut into batches, permute the batches. A pure
// function of (store sizes and lengths, options, epoch): a resume at batch position p sees the batches the
// uninterrupted run saw. Throws E_INVALID_ARGUMENT for batch_size < 1.
std::vector<std::vector<int64_t>> plan_epoch(const FeatureStore& store, const BatchPlanOptions& opts, int64_t epoch);

// Padding share of a plan: (sum over batches of rows * longest - real frames) / (rows * longest).
double padding_share(const FeatureStore& store, const std::vector<std::vector<int64_t>>& plan);

// Features (zero padded), lengths, encoded targets (blank padded), ids and texts of the given utterances.
Batch collate(const FeatureStore& store, const std::vector<int64_t>& indices);

// Prepares batch i+1 on its own thread while batch i trains. next() returns the plan's batches from `start`
// on, then std::nullopt; an exception thrown while preparing a batch leaves next(). An empty index list
// gives a default (empty) Batch: a rank's share of a global batch smaller than the world.
class Prefetcher {
 public:
  Prefetcher(std::shared_ptr<const FeatureStore> store, std::vector<std::vector<int64_t>> plan, int64_t start = 0);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  std::optional<Batch> next();
  int64_t position() const { return position_; }  // index in the plan of the batch next() returns next

 private:
  void run(int64_t start);

  std::shared_ptr<const FeatureStore> store_;
  std::vector<std::vector<int64_t>> plan_;
  int64_t position_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<Batch> ready_;
  std::exception_ptr error_;
  bool finished_ = false;  // the worker has prepared the plan's last batch
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace asr
