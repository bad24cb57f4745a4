#include "asr/train_loop.h"

#include <exception>
#include <optional>
#include <utility>

#include "asr/compute_thread.h"

namespace asr {

std::shared_future<std::shared_ptr<Trainer>> build_trainer(const ModelConfig& model, const TrainConfig& train) {
  auto promise = std::make_shared<std::promise<std::shared_ptr<Trainer>>>();
  std::shared_future<std::shared_ptr<Trainer>> built = promise->get_future().share();
  post_to_compute_thread([promise, model, train] {
    try {
      // LibTorch starts with one intra-op thread; the config's count applies from the build on (weight
      // initialisation opens parallel regions too).
      set_threads(train.threads);
      promise->set_value(std::make_shared<Trainer>(model, train));
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  });
  return built;
}

void run_for_trainer(const Trainer& trainer, const std::function<void()>& work) {
  const int threads = trainer.train_config().threads;
  run_on_compute_thread([&] {
    set_threads(threads);
    work();
  });
}

namespace {

// Attached to a world: this rank's share of each global batch (possibly empty).
std::vector<std::vector<int64_t>> shards_of(const Trainer& trainer, const std::vector<std::vector<int64_t>>& batches) {
  std::vector<std::vector<int64_t>> shards;
  shards.reserve(batches.size());
  for (const auto& batch : batches) {
    const auto size = static_cast<int64_t>(batch.size());
    const auto [first, last] = shard_range(size, trainer.world()->rank(), trainer.world()->size());
    shards.emplace_back(batch.begin() + first, batch.begin() + last);
  }
  return shards;
}

}  // namespace

TrainBatchesResult train_batches(Trainer& trainer, std::shared_ptr<const FeatureStore> store,
                                 std::vector<std::vector<int64_t>> batches, const std::function<bool()>& stop,
                                 const std::function<void(size_t, const StepResult&)>& on_step) {
  TrainBatchesResult result;
  run_for_trainer(trainer, [&] {
    const size_t count = batches.size();
    Collectives* world = trainer.world();
    std::vector<int64_t> global_sizes;
    if (world) {
      for (const auto& batch : batches) global_sizes.push_back(static_cast<int64_t>(batch.size()));
      batches = shards_of(trainer, batches);
    }
    Prefetcher prefetcher(std::move(store), std::move(batches), 0);
    for (size_t i = 0; i < count; ++i) {
      bool stopping = stop && stop();
      // A stop on any rank stops every rank before the same step.
      if (world) stopping = world->max(stopping ? 1 : 0) != 0;
      if (stopping) {
        result.cancelled = true;
        break;
      }
      std::optional<Batch> batch = prefetcher.next();
      if (!batch) break;
      result.steps.push_back(world ? trainer.train_shard(*batch, global_sizes[i]) : trainer.train_step(*batch));
      if (on_step) on_step(i, result.steps.back());
    }
  });
  return result;
}

EvalResult evaluate_batches(Trainer& trainer, const FeatureStore& store,
                            const std::vector<std::vector<int64_t>>& batches, const EvalOptions& options) {
  EvalResult result;
  run_for_trainer(trainer, [&] {
    const auto indices = trainer.world() ? shards_of(trainer, batches) : batches;
    std::vector<Batch> collated;
    collated.reserve(indices.size());
    for (const auto& rows : indices) collated.push_back(rows.empty() ? Batch{} : collate(store, rows));
    result = trainer.world() ? trainer.evaluate_shards(collated, options) : trainer.evaluate(collated, options);
  });
  return result;
}

std::vector<std::string> transcribe_utterances(Trainer& trainer, const FeatureStore& store,
                                               const std::vector<int64_t>& indices) {
  std::vector<std::string> texts;
  run_for_trainer(trainer, [&] { texts = trainer.transcribe(collate(store, indices)); });
  return texts;
}

}  // namespace asr
