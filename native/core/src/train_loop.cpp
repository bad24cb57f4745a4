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

TrainBatchesResult train_batches(Trainer& trainer, std::shared_ptr<const FeatureStore> store,
                                 std::vector<std::vector<int64_t>> batches, const std::function<bool()>& stop,
                                 const std::function<void(size_t, const StepResult&)>& on_step) {
  TrainBatchesResult result;
  run_for_trainer(trainer, [&] {
    const size_t count = batches.size();
    Prefetcher prefetcher(std::move(store), std::move(batches), 0);
    for (size_t i = 0; i < count; ++i) {
      if (stop && stop()) {
        result.cancelled = true;
        break;
      }
      std::optional<Batch> batch = prefetcher.next();
      if (!batch) break;
      result.steps.push_back(trainer.train_step(*batch));
      if (on_step) on_step(i, result.steps.back());
    }
  });
  return result;
}

EvalResult evaluate_batches(Trainer& trainer, const FeatureStore& store,
                            const std::vector<std::vector<int64_t>>& batches) {
  EvalResult result;
  run_for_trainer(trainer, [&] {
    std::vector<Batch> collated;
    collated.reserve(batches.size());
    for (const auto& indices : batches) collated.push_back(collate(store, indices));
    result = trainer.evaluate(collated);
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
