#pragma once
// One handle over LibTorch's c10d: a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT (served by rank 0, or by
// torchrun's agent: WorldInfo::agent_store) and a Gloo (CPU) or NCCL (CUDA) process group. Every wait is
// bounded by timeout_s, so a rank that never arrives or dies mid-collective makes the others throw
// asr::Error(E_DISTRIBUTED) instead of hanging.
// After an E_DISTRIBUTED the group is unusable (its peers are gone or out of step): leave the run with a
// non-zero exit and let the supervisor fail it or restart the whole group from the latest checkpoint.
// c10d's headers stay in the .cpp: including this header needs neither Gloo's nor NCCL's.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "asr/distributed/world.h"

namespace asr::distributed {

struct ProcessGroupOptions {
  // "auto" (nccl when `device` is CUDA, else gloo), "gloo" or "nccl" (only where nccl_available()).
  std::string backend = "auto";
  // Bounds the rendezvous (every rank must have arrived by then) and every collective.
  double timeout_s = 60;
  // Where collectives run: the CPU for gloo; cuda:LOCAL_RANK for nccl (device_for(world, "cuda")).
  torch::Device device = torch::kCPU;
};

// Whether this build has c10d's NCCL process group (a CUDA LibTorch with USE_C10D_NCCL; see CMake).
bool nccl_available();
// cuda:LOCAL_RANK for "cuda" (E_CUDA_UNAVAILABLE when that device does not exist), the CPU for "cpu".
torch::Device device_for(const WorldInfo& world, const std::string& kind);

class ProcessGroup;

// An allreduce in flight. wait() returns once the tensor holds the result, or throws E_DISTRIBUTED.
class PendingCollective {
 public:
  struct State;
  PendingCollective() = default;
  explicit PendingCollective(std::shared_ptr<State> state) : state_(std::move(state)) {}
  void wait();
  bool valid() const { return state_ != nullptr; }

 private:
  std::shared_ptr<State> state_;
};

class ProcessGroup {
 public:
  // Joins the run: blocks until all world.world_size ranks have arrived, or throws E_DISTRIBUTED naming
  // the address, this rank and the likely fix. A missing rank is noticed after timeout_s on ranks > 0, and
  // after up to 2 x timeout_s on rank 0 (c10d's store waits for the workers, then Gloo for their
  // addresses, each bounded by timeout_s). A world of one needs no peers.
  ProcessGroup(const WorldInfo& world, const ProcessGroupOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int size() const;
  const std::string& backend() const;  // "gloo" or "nccl", what "auto" resolved to
  torch::Device device() const;
  double timeout_s() const;

  // Sums `tensor` (contiguous, on device()) over all ranks, in place, without blocking.
  PendingCollective allreduce_sum_async(torch::Tensor tensor);
  void allreduce_sum(torch::Tensor tensor);
  // Overwrites each tensor (any device; moved to device() and back) with rank `root`'s values.
  void broadcast(std::vector<torch::Tensor> tensors, int root = 0);

  // Host-side helpers for the training loop: loss sums and utterance counts for progress and validation,
  // and a stop flag whose MAX makes every rank stop at the same global step.
  std::vector<double> allreduce_sum(const std::vector<double>& values);
  int64_t allreduce_max(int64_t value);
  // Every rank returns only once all have called it (e.g. after rank 0 committed a checkpoint).
  void barrier();
  // Rank 0's `text` on every rank (the others' argument is ignored): its length, then its bytes.
  std::string broadcast_string(const std::string& text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace asr::distributed
