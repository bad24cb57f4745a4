#include "asr/distributed/gradient_sync.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "asr/errors.h"

namespace asr::distributed {

struct GradientSynchronizer::Impl {
  struct Bucket {
    std::vector<size_t> params;    // indices into `params`
    std::vector<int64_t> offsets;  // each one's start in `flat`
    torch::Tensor flat;
    size_t pending = 0;  // gradients not yet ready in this backward
    PendingCollective work;
  };

  ProcessGroup* group = nullptr;
  std::vector<torch::Tensor> params;
  std::vector<size_t> bucket_of;
  std::vector<Bucket> buckets;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  std::vector<uintptr_t> hook_keys;

  std::mutex mutex;  // CUDA backward runs hooks on the device's autograd thread
  bool syncing = false;
  std::vector<bool> ready;
  size_t next_launch = 0;
  GradientSyncStats stats;

  void launch(Bucket& bucket) {
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < bucket.params.size(); ++k) {
      const auto& p = params[bucket.params[k]];
      auto slice = bucket.flat.narrow(0, bucket.offsets[k], p.numel());
      if (p.grad().defined()) {
        slice.copy_(p.grad().reshape(-1));
      } else {
        slice.zero_();
      }
    }
    bucket.work = group->allreduce_sum_async(bucket.flat);
  }

  // In index order only: every rank must issue the same collectives in the same order.
  void launch_ready_in_order() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      launch(buckets[next_launch++]);
      ++stats.launched_in_backward;
    }
  }

  void on_gradient_ready(size_t index) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!syncing || ready[index]) return;
    ready[index] = true;
    --buckets[bucket_of[index]].pending;
    launch_ready_in_order();
  }

  void reset(bool sync) {
    syncing = sync;
    next_launch = 0;
    std::fill(ready.begin(), ready.end(), false);
    for (auto& b : buckets) {
      b.pending = b.params.size();
      b.work = PendingCollective();
    }
  }
};

namespace {

// Runs after the parameter's AccumulateGrad node, when .grad holds this backward's contribution.
class GradientReadyHook : public torch::autograd::FunctionPostHook {
 public:
  explicit GradientReadyHook(std::function<void()> on_ready) : on_ready_(std::move(on_ready)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    on_ready_();
    return outputs;
  }

 private:
  std::function<void()> on_ready_;
};

}  // namespace

GradientSynchronizer::GradientSynchronizer(ProcessGroup& group, std::vector<torch::Tensor> parameters, double bucket_mb)
    : impl_(std::make_shared<Impl>()) {
  if (!(bucket_mb > 0)) {
    throw Error(codes::kInvalidArgument, "gradient bucket size must be > 0 MB, got " + std::to_string(bucket_mb));
  }
  auto& s = *impl_;
  s.group = &group;
  s.params = std::move(parameters);
  s.bucket_of.assign(s.params.size(), 0);
  s.ready.assign(s.params.size(), false);
  const auto cap = static_cast<int64_t>(bucket_mb * 1024 * 1024);
  // Reverse registration order approximates the order backward produces gradients in.
  int64_t bytes = cap;
  for (size_t i = s.params.size(); i-- > 0;) {
    const auto& p = s.params[i];
    if (!p.requires_grad() || p.device() != group.device()) {
      throw Error(codes::kInvalidArgument,
                  "parameter " + std::to_string(i) + " must require grad and live on " + group.device().str());
    }
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    if (bytes >= cap || s.buckets.back().flat.scalar_type() != p.scalar_type()) {
      s.buckets.emplace_back();
      s.buckets.back().flat = torch::empty({0}, p.options());
      bytes = 0;
    }
    auto& b = s.buckets.back();
    b.offsets.push_back(b.offsets.empty() ? 0 : b.offsets.back() + s.params[b.params.back()].numel());
    b.params.push_back(i);
    s.bucket_of[i] = s.buckets.size() - 1;
    bytes += size;
  }
  for (auto& b : s.buckets) {
    const auto& last = s.params[b.params.back()];
    b.flat = torch::empty({b.offsets.back() + last.numel()}, last.options().requires_grad(false));
  }
  s.stats.buckets = s.buckets.size();
  s.reset(false);
  for (size_t i = 0; i < s.params.size(); ++i) {
    // Holding the accumulator keeps it (and the hook on it) the one autograd uses for this parameter.
    auto accumulator = torch::autograd::impl::grad_accumulator(s.params[i]);
    std::weak_ptr<Impl> owner = impl_;
    auto hook = std::make_unique<GradientReadyHook>([owner, i] {
      if (auto alive = owner.lock()) alive->on_gradient_ready(i);
    });
    s.hook_keys.push_back(accumulator->add_post_hook(std::move(hook)));
    s.accumulators.push_back(std::move(accumulator));
  }
}

GradientSynchronizer::~GradientSynchronizer() {
  for (size_t i = 0; i < impl_->accumulators.size(); ++i) impl_->accumulators[i]->del_post_hook(impl_->hook_keys[i]);
}

void GradientSynchronizer::begin_backward(bool sync) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->reset(sync && impl_->group->size() > 1);
  impl_->stats.launched_in_backward = 0;
  impl_->stats.wait_s = 0;
}

void GradientSynchronizer::finish() {
  auto& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.syncing) return;
    s.syncing = false;  // late hooks (none expected) must not launch into a finished step
    while (s.next_launch < s.buckets.size()) s.launch(s.buckets[s.next_launch++]);
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    for (auto& b : s.buckets) b.work.wait();
  } catch (...) {
    s.reset(false);
    throw;
  }
  s.stats.wait_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  torch::NoGradGuard no_grad;
  for (auto& b : s.buckets) {
    for (size_t k = 0; k < b.params.size(); ++k) {
      auto& p = s.params[b.params[k]];
      auto sum = b.flat.narrow(0, b.offsets[k], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(sum);
      } else {
        p.mutable_grad() = sum.clone();
      }
    }
  }
}

const GradientSyncStats& GradientSynchronizer::stats() const { return impl_->stats; }

}  // namespace asr::distributed
