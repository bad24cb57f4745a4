#include "asr/distributed/trainer_collectives.h"

#include <utility>
#include <vector>

#include "asr/distributed/gradient_sync.h"

namespace asr::distributed {
namespace {

class SynchronizerSummer : public GradientSummer {
 public:
  SynchronizerSummer(ProcessGroup& group, std::vector<torch::Tensor> parameters, double bucket_mb)
      : sync_(group, std::move(parameters), bucket_mb) {}
  void begin_backward(bool sync) override { sync_.begin_backward(sync); }
  double finish() override {
    sync_.finish();
    return sync_.stats().wait_s;
  }

 private:
  GradientSynchronizer sync_;
};

class ProcessGroupCollectives : public Collectives {
 public:
  ProcessGroupCollectives(std::shared_ptr<ProcessGroup> group, double bucket_mb)
      : group_(std::move(group)), bucket_mb_(bucket_mb) {}
  int rank() const override { return group_->rank(); }
  int size() const override { return group_->size(); }
  void broadcast_from_rank0(std::vector<torch::Tensor> tensors) override {
    if (group_->size() > 1 && !tensors.empty()) group_->broadcast(std::move(tensors), 0);
  }
  std::vector<double> sum(const std::vector<double>& values) override { return group_->allreduce_sum(values); }
  int64_t max(int64_t value) override { return group_->allreduce_max(value); }
  std::unique_ptr<GradientSummer> sum_gradients(std::vector<torch::Tensor> parameters) override {
    return std::make_unique<SynchronizerSummer>(*group_, std::move(parameters), bucket_mb_);
  }

 private:
  std::shared_ptr<ProcessGroup> group_;
  double bucket_mb_;
};

}  // namespace

std::shared_ptr<Collectives> trainer_collectives(std::shared_ptr<ProcessGroup> group, double bucket_mb) {
  return std::make_shared<ProcessGroupCollectives>(std::move(group), bucket_mb);
}

}  // namespace asr::distributed
