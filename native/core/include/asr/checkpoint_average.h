#pragma once
// Checkpoint averaging: the element-wise mean of the model weights of N checkpoints of one run (e.g. the
// last five epochs), written as an ordinary checkpoint (checkpoint.h's format, torch.load-readable).
//
// What the output holds, and why:
//   model       floating tensors: the mean, accumulated in float64 and cast back to each tensor's dtype;
//               integer tensors (BatchNorm's num_batches_tracked): the last input's value, a counter
//               has no meaningful mean
//   optimizer   param_groups and param_names of the last input, state EMPTY: AdamW's moments estimate
//               the gradients at the last input's weights, not at the average, so a run resumed from
//               an average starts its moments afresh (as at step 1) while the learning-rate schedule
//               continues from the last input's global_step
//   accumulated_grads  dropped for the same reason (gradients at other weights)
//   ema_state_dict, ema_decay, ema_updates  dropped: the last input's moving average is not the average's
//               (transcribe would decode with it); a run resumed from the average starts one at its weights
//   metrics     "{}": the inputs' validation metrics do not describe the average; evaluate it
//   averaged_from  the input paths, in order (a key the loader ignores)
//   everything else (epoch, step, global_step, scheduler, rng, data, config, model_config) as in the last
//   input, so resuming continues the last input's data order
#include <cstdint>
#include <string>
#include <vector>

namespace asr {

struct AverageSummary {
  int64_t checkpoints = 0;       // inputs averaged
  int64_t averaged_tensors = 0;  // floating tensors averaged
  int64_t copied_tensors = 0;    // integer tensors taken from the last input
  int64_t global_step = 0;       // the last input's, which the output carries
};

// Reads the inputs one at a time (memory: a float64 accumulator plus one checkpoint as read), so N does
// not multiply memory. Throws E_INVALID_ARGUMENT for no inputs, E_CHECKPOINT_NOT_FOUND /
// E_CHECKPOINT_CORRUPT for an unreadable input, E_SHAPE_MISMATCH naming the key (and both shapes or
// dtypes) when an input's model differs from the first's, E_IO when the output cannot be written
// (atomically, as write_checkpoint does; the output may be one of the inputs).
AverageSummary average_checkpoints(const std::vector<std::string>& inputs, const std::string& output);

}  // namespace asr
