#pragma once
// One Conformer-CTC training run's state: model, AdamW, Noam schedule, generators; a step at a time.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "asr/batch.h"
#include "asr/checkpoint.h"
#include "asr/collectives.h"
#include "asr/ema.h"
#include "asr/model.h"
#include "asr/runtime.h"
#include "asr/spec_augment.h"

namespace asr {

// Learning rate (Noam warm-up, computed from the optimizer update count u = 1, 2, ...):
//   lr(u) = learning_rate * min(u / warmup_steps, sqrt(warmup_steps / u))
// i.e. a linear ramp to the peak `learning_rate` at u = warmup_steps, then inverse-square-root decay.
// warmup_steps = 0 means a constant learning_rate.
struct TrainConfig {
  double learning_rate = 2e-3;
  int64_t warmup_steps = 200;
  double beta1 = 0.9, beta2 = 0.98, eps = 1e-9, weight_decay = 1e-3;
  double grad_clip = 5.0;          // max global L2 norm; <= 0: no clipping (the norm is still reported)
  int64_t grad_accumulation = 1;   // batches per optimizer update; the loss is divided by it
  uint64_t seed = 0;               // seeds the torch generators (init, dropout, SpecAugment) in the constructor
  int threads = 0;                 // intra-op threads (process-wide, every calling thread included);
                                   // 0: std::thread::hardware_concurrency()
  std::string device = "auto";     // auto|cpu|cuda|cuda:N; auto takes CUDA when the linked LibTorch has it
  std::string precision = "fp32";  // fp32 | bf16: autocast of the forward pass (precision.h)
  SpecAugmentOptions spec_augment;
  double ema_decay = 0;  // [0, 1): keep a moving average of the weights (ema.h); 0: none
};

struct StepResult {
  double loss = 0;          // CTC loss of this batch (mean over utterances of loss / target length)
  double lr = 0;            // learning rate used by this step's update (or the next one, mid-accumulation)
  double grad_norm = 0;     // global L2 norm before clipping; 0 mid-accumulation
  int64_t global_step = 0;  // batches trained so far, this one included
  int64_t utterances = 0, frames = 0;
  double seconds = 0;
  bool finite = true;    // false: loss or gradient was NaN/inf, the update was skipped
  bool updated = false;  // an optimizer update happened (every grad_accumulation batches)
  // Attached to a world only (empty / 0 otherwise). loss, utterances, frames and finite are then global.
  std::vector<double> rank_seconds;  // every rank's `seconds` for this step, index = rank
  double allreduce_s = 0;            // this rank's wait for the gradient sums; 0 mid-accumulation
  std::vector<std::string> ids;      // the utterances of this rank's share
};

// How evaluate decodes and with which weights.
struct EvalOptions {
  int64_t beam_width = 0;  // 0: greedy; 1..kMaxBeamWidth (beam_search.h): CTC prefix beam search
  Weights weights = Weights::kRaw;
};

struct EvalResult {
  double loss = 0;          // mean over utterances (as the training loss)
  double cer = 0, wer = 0;  // fractions
  int64_t utterances = 0;
  std::vector<std::string> hypotheses, references, ids;
};

class Trainer {
 public:
  // Throws E_INVALID_ARGUMENT for a bad config, E_CUDA_UNAVAILABLE for cuda without CUDA (or N too big).
  Trainer(const ModelConfig& model, const TrainConfig& train);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Attached to a world, `batch` is the global batch and this rank trains its rows (train_shard).
  StepResult train_step(const Batch& batch);
  // Eval mode, no SpecAugment, decoded and weighted as `options` say. Attached: global batches, as
  // evaluate_shards on this rank's rows.
  EvalResult evaluate(const std::vector<Batch>& batches, const EvalOptions& options = {});
  std::vector<std::string> transcribe(const Batch& batch);

  void save_checkpoint(const std::string& path, const CheckpointMeta& meta);  // snapshot() + write_checkpoint
  CheckpointSnapshot snapshot(const CheckpointMeta& meta) const;              // deep copy, CPU tensors
  // Restores model, optimizer, schedule position and generators. Throws E_CHECKPOINT_NOT_FOUND,
  // E_CHECKPOINT_CORRUPT, or E_SHAPE_MISMATCH naming the first differing key and both shapes.
  CheckpointMeta load_checkpoint(const std::string& path);

  // Data parallel (trainer_world.cpp). Makes this trainer rank world->rank()'s copy of one run: rank 0's
  // parameters, buffers, AdamW moments and step counts, optimizer settings, global step and seed are broadcast
  // (call it after rank 0 loaded its checkpoint, on every rank), and the gradient hooks go in. From then on
  // train_step and evaluate take GLOBAL batches (the same on every rank) of which each rank works on its
  // shard (shard_range): the loss is normalised over the global batch and the gradients summed, so the
  // update equals one process's on the whole batch up to float summation order, except that BatchNorm
  // normalises each rank's share by its own statistics (as DDP does); its running statistics follow rank
  // 0's after every step. Dropout and SpecAugment draw from rank_step_stream_seed(seed, global step, rank)
  // (asr/distributed/rng_keys.h), so a resume at the same world size replays bitwise. E_INVALID_ARGUMENT
  // when already attached.
  void attach_world(std::shared_ptr<Collectives> world);
  Collectives* world() const;  // null until attach_world
  // Attached: this rank's share of a global batch of `global_batch_size` utterances; an empty share is a
  // default Batch (it still takes part in every collective).
  StepResult train_shard(const Batch& shard, int64_t global_batch_size);
  // Attached: this rank's shares of the evaluation batches; loss, cer, wer and utterances are global
  // (equal on every rank), hypotheses, references and ids this rank's.
  EvalResult evaluate_shards(const std::vector<Batch>& shards, const EvalOptions& options = {});

  // The moving average of the weights (ema.h): kept when ema_decay > 0 (restored by load_checkpoint, or
  // started from the loaded weights when the checkpoint has none, and broadcast by attach_world), or
  // loaded from a checkpoint that has one. Runs `work` (a forward pass: transcribe, transcribe_beam) with
  // those weights in the model, then puts the trained ones back bit for bit; kRaw just runs it.
  // E_INVALID_ARGUMENT for kEma without an average.
  void with_weights(Weights weights, const std::function<void()>& work);
  bool has_ema_weights() const;

  int64_t global_step() const;
  int64_t parameter_count() const;
  std::string device_name() const;  // "cpu", "cuda:0", ...
  const ModelConfig& model_config() const;
  const TrainConfig& train_config() const;
  double current_lr() const;  // the rate the next update will use
  ConformerCTC& model();

 private:
  CheckpointMeta load_checkpoint_checked(const std::string& path);

  struct State;
  std::unique_ptr<State> state_;
};

// Noam rate for optimizer update u (1-based); see TrainConfig.
double noam_lr(double peak, int64_t warmup_steps, int64_t update);
// Checks both configs and resolves the device as the constructor does first (the same errors); builds
// nothing, so it is cheap enough for a caller that must answer at once.
void validate_train_config(const TrainConfig& config);
torch::Device check_trainer_config(const ModelConfig& model, const TrainConfig& train);

}  // namespace asr
