#pragma once
// Makes every rank's copy of a module equal rank 0's, as DDP does: parameters and buffers once at the
// start (so ranks that initialised or loaded differently agree), buffers alone after each step (BatchNorm's
// running statistics drift apart otherwise, since each rank normalises its own part of the batch).
#include <torch/torch.h>

#include "asr/distributed/process_group.h"

namespace asr::distributed {

// Every parameter and buffer, in named_parameters()/named_buffers() order, overwritten with rank 0's.
void broadcast_parameters_and_buffers(torch::nn::Module& module, ProcessGroup& group);
// Every buffer (BatchNorm running_mean, running_var, num_batches_tracked) overwritten with rank 0's.
void broadcast_buffers(torch::nn::Module& module, ProcessGroup& group);

}  // namespace asr::distributed
