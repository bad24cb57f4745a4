#pragma once
// Sums gradients over all ranks in buckets while backward still runs, as DDP does: a post-hook on each
// parameter's gradient accumulator marks it ready; a bucket (~bucket_mb, parameters in reverse order, the
// order backward produces them) is flattened and its allreduce launched as soon as all its gradients are
// in. Buckets launch strictly in index order on every rank, which is what keeps the ranks' collectives
// matched when some parameter gets no gradient on some rank.
//
// Normalisation contract (kept out of here on purpose): gradients are SUMMED, never averaged. Each rank's
// loss must be (sum over its utterances of the per-utterance loss) / (utterances in the GLOBAL batch), for
// CTC: sum_i ctc_i / target_length_i / B_global, i.e. Reduction::Mean's numerator over the global count.
// Then the sum over ranks equals the single-process mean over the whole batch, whatever the split (4+4,
// 5+3, ...), up to float summation order. With accumulation over micro-batches, divide by the utterances
// of all micro-batches of the optimiser step, on all ranks.
#include <torch/torch.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "asr/distributed/process_group.h"

namespace asr::distributed {

struct GradientSyncStats {
  size_t buckets = 0;               // buckets the parameters were split into
  size_t launched_in_backward = 0;  // of the last sync, buckets whose allreduce started during backward
  double wait_s = 0;                // of the last sync, time finish() waited on the network
};

class GradientSynchronizer {
 public:
  // `parameters`: those the optimiser steps (requires_grad, on the group's device), in registration order.
  // bucket_mb > 0; 25 is DDP's default. The hooks live as long as this object.
  GradientSynchronizer(ProcessGroup& group, std::vector<torch::Tensor> parameters, double bucket_mb = 25);
  ~GradientSynchronizer();
  GradientSynchronizer(const GradientSynchronizer&) = delete;
  GradientSynchronizer& operator=(const GradientSynchronizer&) = delete;

  // Call before each micro-batch's backward. sync=false (all but the last micro-batch of a step): the hooks
  // do nothing and gradients accumulate locally. sync=true: buckets go out as their gradients arrive.
  void begin_backward(bool sync);
  // After the last micro-batch's backward: launches the buckets still waiting (a parameter without a
  // gradient on this rank counts as zeros), waits for all, and writes the sums into each .grad (a
  // parameter without a gradient on every rank ends with zeros). Throws E_DISTRIBUTED when a collective
  // fails or times out (a rank died). No-op when the group has one rank.
  void finish();

  const GradientSyncStats& stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the hooks, which outlive nothing: ~GradientSynchronizer removes them
};

}  // namespace asr::distributed
