#pragma once
// The checkpoint file: a torch::pickle_save'd dict that Python's torch.load reads (docs/architecture.md §3).
//   model            name -> tensor (encoder.* exactly as torchaudio.models.Conformer.state_dict())
//   optimizer        {state: {i: {step, exp_avg, exp_avg_sq}}, param_groups: [{lr, betas, eps,
//                     weight_decay, amsgrad, params}], param_names: [...]} (i indexes param_names)
//   scheduler        {name: "noam", peak_lr, warmup_steps, last_step}
//   epoch, step, global_step (batches trained; the schedule counts updates = global_step / accumulation)
//   rng              {cpu: uint8 tensor, cuda: [uint8 tensor per device]}
//   data             {seed, epoch, batch_position}
//   config           the caller's JSON text;  model_config {n_mels, d_model, ...};  metrics  JSON text
//   accumulated_grads (only when saved in the middle of a gradient-accumulation cycle)
//   ema_state_dict, ema_decay, ema_updates (only with training.ema_decay > 0: the moving average of the
//                     parameters plus the model's buffers, name -> tensor as `model`; ema.h)
//   format_version, libtorch_version
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "asr/checkpoint_zip.h"
#include "asr/model.h"

namespace asr {

inline constexpr int64_t kCheckpointFormatVersion = 1;

struct CheckpointMeta {
  int64_t epoch = 0;
  int64_t step = 0;
  int64_t global_step = 0;
  uint64_t data_seed = 0;
  int64_t data_epoch = 0;
  int64_t batch_position = 0;
  std::string config_json = "{}";
  std::string metrics_json = "{}";
};

// A complete checkpoint held in memory (CPU tensors that training no longer touches), so the file can be
// written off the training thread.
struct CheckpointSnapshot {
  c10::IValue dict;
};

// Atomic write: a temp file in the same folder, fsync, rename over `path`, fsync the folder. Any failure
// (ENOSPC, permissions, missing folder) throws asr::Error(E_IO) naming the path; the temp file is removed.
void write_checkpoint(const std::string& path, const CheckpointSnapshot& snapshot);
// The same with zip64 fields from `zip64_from` bytes on (tests: the layout of files over 4 GiB, on a small one).
void write_checkpoint(const std::string& path, const CheckpointSnapshot& snapshot, uint64_t zip64_from);

// Reads and checks the top-level structure. Missing file: E_CHECKPOINT_NOT_FOUND; truncated, foreign or
// garbage bytes: E_CHECKPOINT_CORRUPT (never a crash).
CheckpointSnapshot read_checkpoint(const std::string& path);

// epoch/step/global_step/data/config/metrics without building a model.
CheckpointMeta read_checkpoint_meta(const std::string& path);
CheckpointMeta checkpoint_meta(const CheckpointSnapshot& snapshot);
// The model config stored in a checkpoint (E_CHECKPOINT_CORRUPT when absent).
ModelConfig read_checkpoint_model_config(const std::string& path);

}  // namespace asr
