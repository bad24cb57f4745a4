// Epoch batch plans, collation and the prefetch thread.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

#include "asr/compute_thread.h"
#include "asr/dataset.h"
#include "asr/errors.h"
#include "asr/vocab.h"

namespace asr {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// std::uniform_int_distribution differs between standard libraries; this draw is the same everywhere.
uint64_t bounded(std::mt19937_64& gen, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;  // 2^64 mod n: values below it would bias the remainder
  for (;;) {
    const uint64_t r = gen();
    if (r >= threshold) return r % n;
  }
}

template <typename T>
void permute(std::vector<T>& v, std::mt19937_64& gen) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[bounded(gen, i)]);
}

// Cuts consecutive utterances into batches of at most batch_size rows whose padded size
// (rows * longest) stays within max_frames; an utterance longer than the budget gets a batch of its own.
void cut(const FeatureStore& store, const BatchPlanOptions& opts, std::vector<int64_t>::const_iterator begin,
         std::vector<int64_t>::const_iterator end, std::vector<std::vector<int64_t>>& out) {
  std::vector<int64_t> batch;
  int64_t longest = 0;
  for (auto it = begin; it != end; ++it) {
    const int64_t frames = store.frames(*it);
    const int64_t rows = static_cast<int64_t>(batch.size()) + 1;
    const bool full = static_cast<int64_t>(batch.size()) >= opts.batch_size ||
                      (opts.max_frames > 0 && rows * std::max(longest, frames) > opts.max_frames);
    if (!batch.empty() && full) {
      out.push_back(std::move(batch));
      batch.clear();
      longest = 0;
    }
    batch.push_back(*it);
    longest = std::max(longest, frames);
  }
  if (!batch.empty()) out.push_back(std::move(batch));
}

}  // namespace

size_t speed_choice(uint64_t seed, int64_t epoch, int64_t utterance, size_t choices) {
  if (choices == 0) throw Error(codes::kInvalidArgument, "speed_choice needs at least one factor to choose from");
  // Its own domain, so the draw is unrelated to the shuffle's generator and to other per-utterance streams.
  constexpr uint64_t kSpeedDomain = 0x5350454544464143ull;  // "SPEEDFAC"
  const uint64_t key = splitmix64(splitmix64(splitmix64(seed ^ kSpeedDomain) ^ static_cast<uint64_t>(epoch)) ^
                                  static_cast<uint64_t>(utterance));
  return static_cast<size_t>(key % choices);  // the bias is below choices / 2^64
}

std::vector<std::vector<int64_t>> plan_epoch(const FeatureStore& store, const BatchPlanOptions& opts, int64_t epoch) {
  if (opts.batch_size < 1) {
    throw Error(codes::kInvalidArgument, "batch_size must be at least 1, got " + std::to_string(opts.batch_size));
  }
  std::mt19937_64 gen(splitmix64(opts.seed) ^ splitmix64(0xE90C0000ull + static_cast<uint64_t>(epoch)));
  std::vector<int64_t> order(static_cast<size_t>(store.utterances()));
  std::iota(order.begin(), order.end(), 0);
  if (opts.shuffle) permute(order, gen);
  // After the shuffle, which stays the unperturbed run's, so sorting and cutting see the chosen lengths.
  if (const size_t choices = store.speed_factors().size(); choices > 0) {
    for (auto& u : order) u = store.variant(u, speed_choice(opts.seed, epoch, u, choices));
  }

  std::vector<std::vector<int64_t>> batches;
  if (!opts.bucket) {
    cut(store, opts, order.begin(), order.end(), batches);
  } else {
    const auto chunk = static_cast<size_t>(opts.bucket_chunk > 0 ? opts.bucket_chunk : 32 * opts.batch_size);
    for (size_t start = 0; start < order.size(); start += chunk) {
      const auto first = order.begin() + static_cast<std::ptrdiff_t>(start);
      const auto last = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + chunk));
      // Stable, so equal lengths keep the permuted order and the plan stays a function of the seed alone.
      std::stable_sort(first, last, [&](int64_t a, int64_t b) { return store.frames(a) < store.frames(b); });
      cut(store, opts, first, last, batches);
    }
  }
  if (opts.shuffle) permute(batches, gen);
  return batches;
}

double padding_share(const FeatureStore& store, const std::vector<std::vector<int64_t>>& plan) {
  int64_t padded = 0, real = 0;
  for (const auto& batch : plan) {
    int64_t longest = 0;
    for (int64_t i : batch) {
      longest = std::max(longest, store.frames(i));
      real += store.frames(i);
    }
    padded += longest * static_cast<int64_t>(batch.size());
  }
  return padded > 0 ? static_cast<double>(padded - real) / static_cast<double>(padded) : 0.0;
}

Batch collate(const FeatureStore& store, const std::vector<int64_t>& indices) {
  if (indices.empty()) throw Error(codes::kInvalidArgument, "collate needs at least one utterance index");
  const auto rows = static_cast<int64_t>(indices.size());
  const int64_t bins = store.num_mel_bins();
  int64_t longest = 0, longest_target = 0;
  for (int64_t i : indices) {
    longest = std::max(longest, store.frames(i));
    longest_target = std::max(longest_target, static_cast<int64_t>(store.tokens(i).size()));
  }
  Batch batch;
  batch.features = torch::zeros({rows, longest, bins}, torch::kFloat32);
  batch.feature_lengths = torch::empty({rows}, torch::kInt64);
  batch.targets = torch::full({rows, longest_target}, kBlank, torch::kInt64);
  batch.target_lengths = torch::empty({rows}, torch::kInt64);
  float* features = batch.features.data_ptr<float>();
  int64_t* targets = batch.targets.data_ptr<int64_t>();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = indices[static_cast<size_t>(r)];
    const int64_t frames = store.frames(i);
    std::memcpy(features + r * longest * bins, store.feature_data(i),
                static_cast<size_t>(frames * bins) * sizeof(float));
    batch.feature_lengths[r] = frames;
    const auto& tokens = store.tokens(i);
    std::copy(tokens.begin(), tokens.end(), targets + r * longest_target);
    batch.target_lengths[r] = static_cast<int64_t>(tokens.size());
    batch.ids.push_back(store.id(i));
    batch.texts.push_back(store.text(i));
  }
  return batch;
}

Prefetcher::Prefetcher(std::shared_ptr<const FeatureStore> store, std::vector<std::vector<int64_t>> plan, int64_t start)
    : store_(std::move(store)), plan_(std::move(plan)), position_(start) {
  if (!store_) throw Error(codes::kInvalidArgument, "Prefetcher needs a feature store");
  if (start < 0 || start > static_cast<int64_t>(plan_.size())) {
    throw Error(codes::kInvalidArgument, "batch position " + std::to_string(start) + " is outside the plan of " +
                                             std::to_string(plan_.size()) + " batches");
  }
  worker_ = std::thread([this, start] { run(start); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void Prefetcher::run(int64_t start) {
  limit_this_thread_to_one_openmp_thread();
  for (auto i = static_cast<size_t>(start); i < plan_.size(); ++i) {
    std::optional<Batch> batch;
    try {
      batch = plan_[i].empty() ? Batch{} : collate(*store_, plan_[i]);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !ready_ || stop_; });
    if (stop_) return;
    ready_ = std::move(batch);
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  finished_ = true;
  cv_.notify_all();
}

std::optional<Batch> Prefetcher::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return ready_ || error_ || finished_; });
  if (ready_) {
    std::optional<Batch> batch = std::move(ready_);
    ready_.reset();
    ++position_;
    cv_.notify_all();
    return batch;
  }
  if (error_) std::rethrow_exception(error_);
  return std::nullopt;
}

}  // namespace asr
