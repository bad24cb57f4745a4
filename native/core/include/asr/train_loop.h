#pragma once
// A trainer's work on a feature store's batches, each call on the compute thread (compute_thread.h) with the
// trainer's own thread count: the step loop with its stop check, evaluation, transcription.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "asr/dataset.h"
#include "asr/trainer.h"

namespace asr {

struct TrainBatchesResult {
  std::vector<StepResult> steps;
  bool cancelled = false;  // `stop` ended the loop before the last batch
};

// Queues building a Trainer on the compute thread and returns at once; the future holds the trainer or the
// constructor's error. The compute thread runs work in the order it was queued, so the build (which seeds
// the global generators) takes the place a blocking build would have had among other trainers' work.
std::shared_future<std::shared_ptr<Trainer>> build_trainer(const ModelConfig& model, const TrainConfig& train);

// Runs `work` on the compute thread with the trainer's intra-op thread count: OpenMP keeps the count per
// thread, and another trainer may have set a different one there since.
void run_for_trainer(const Trainer& trainer, const std::function<void()>& work);

// One step per batch (indices into `store`), in order, preparing the next batch while one trains. `stop` is
// asked before each step: true ends the loop (the step in flight has finished) with `cancelled`. `on_step`
// gets each step and its index in `batches` right after it, on the compute thread. Attached to a world
// (Trainer::attach_world), `batches` are the global batches (the same on every rank): each rank prepares and
// trains only its share, and the stop flag is agreed (a MAX over ranks) at every step boundary.
TrainBatchesResult train_batches(Trainer& trainer, std::shared_ptr<const FeatureStore> store,
                                 std::vector<std::vector<int64_t>> batches, const std::function<bool()>& stop = {},
                                 const std::function<void(size_t, const StepResult&)>& on_step = {});

// Trainer::evaluate over the collated batches; attached to a world, over this rank's shares of them
// (Trainer::evaluate_shards: global loss, CER and WER on every rank).
EvalResult evaluate_batches(Trainer& trainer, const FeatureStore& store,
                            const std::vector<std::vector<int64_t>>& batches, const EvalOptions& options = {});

// Trainer::transcribe of one batch of utterances, in the order given.
std::vector<std::string> transcribe_utterances(Trainer& trainer, const FeatureStore& store,
                                               const std::vector<int64_t>& indices);

}  // namespace asr
