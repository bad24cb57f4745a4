#pragma once
// What a data-parallel Trainer (Trainer::attach_world) asks of the ranks it trains with. Abstract so that
// asr_model builds and tests without c10d or Gloo; asr_distributed implements it over a c10d process group
// (asr/distributed/trainer_collectives.h). Every call is a collective: all ranks make the same calls in
// the same order, and a lost rank makes them throw asr::Error(E_DISTRIBUTED).
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace asr {

// Sums the gradients of a fixed list of parameters over all ranks, in buckets while backward runs
// (asr/distributed/gradient_sync.h for the normalisation contract).
class GradientSummer {
 public:
  virtual ~GradientSummer() = default;
  // Before each micro-batch's backward; sync only on the last micro-batch of an optimiser step.
  virtual void begin_backward(bool sync) = 0;
  // After the last micro-batch (whether or not this rank ran a backward): every .grad holds the sum over
  // ranks. Returns the seconds this rank waited for the network.
  virtual double finish() = 0;
};

class Collectives {
 public:
  virtual ~Collectives() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Overwrites every tensor (any dtype, any mix) with rank 0's values.
  virtual void broadcast_from_rank0(std::vector<torch::Tensor> tensors) = 0;
  virtual std::vector<double> sum(const std::vector<double>& values) = 0;
  virtual int64_t max(int64_t value) = 0;
  // Installs the gradient hooks on `parameters` (they live as long as the returned object).
  virtual std::unique_ptr<GradientSummer> sum_gradients(std::vector<torch::Tensor> parameters) = 0;
};

// The rows [first, second) of a global batch of `batch_size` that `rank` of `size` ranks works on: the
// contiguous share [floor(rank * B / N), floor((rank + 1) * B / N)), empty when B < N for some ranks.
std::pair<int64_t, int64_t> shard_range(int64_t batch_size, int rank, int size);

}  // namespace asr
