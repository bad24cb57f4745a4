// Rank side of the allreduce measurement (TwoRanks.DISABLED_ReportsTheAllreduceShareOfAnXsStep): the xs
// model's gradients summed over Gloo on 127.0.0.1, as one flat buffer after backward and in buckets during
// it, against the step's compute alone. Rank 0 prints the table.
#include <chrono>
#include <iostream>

#include "asr/distributed/gradient_sync.h"
#include "asr/distributed/module_broadcast.h"
#include "asr/distributed/process_group.h"
#include "test_model_helpers.h"

namespace asr_test {

using namespace asr::distributed;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

torch::Tensor step_loss(asr::ConformerCTC& model, const asr::Batch& batch) {
  auto [log_probs, out_lengths] = model->forward(batch.features, batch.feature_lengths);
  return torch::ctc_loss(log_probs.transpose(0, 1), batch.targets, out_lengths.cpu(), batch.target_lengths,
                         asr::kBlank, at::Reduction::Sum, true) / 8.0;
}

}  // namespace

int bench_scenario(const WorldInfo& world, const std::string& /*dir*/) {
  torch::manual_seed(1);
  asr::ConformerCTC model(asr::model_preset("xs"));
  model->train();
  // Each rank's half of a global batch of 8 utterances of 4 s (400 frames).
  const auto batch = asr::test::random_batch(20 + world.rank, {400, 380, 360, 340}, 40);
  ProcessGroupOptions options;
  options.backend = "gloo";
  options.timeout_s = 60;
  ProcessGroup group(world, options);
  broadcast_parameters_and_buffers(*model, group);
  auto params = model->parameters();
  int64_t numel = 0;
  for (const auto& p : params) numel += p.numel();
  const int iterations = 3;

  double compute_s = 0;
  for (int i = 0; i <= iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    model->zero_grad();
    step_loss(model, batch).backward();
    if (i > 0) compute_s += seconds_since(start) / iterations;  // the first is a warm-up
  }
  group.barrier();

  double flat_s = 0;
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<torch::Tensor> parts;
    for (const auto& p : params) parts.push_back(p.grad().reshape(-1));
    auto flat = torch::cat(parts);
    group.allreduce_sum(flat);
    int64_t offset = 0;
    for (auto& p : params) {
      p.mutable_grad().copy_(flat.narrow(0, offset, p.numel()).view(p.sizes()));
      offset += p.numel();
    }
    flat_s += seconds_since(start) / iterations;
  }

  std::ostringstream table;
  table << "xs: " << numel << " parameters (" << numel * 4 / 1e6 << " MB of gradients), batch 4 x ~4 s per rank, "
        << "1 thread per rank\n";
  table << "compute (forward+backward, no sync): " << compute_s << " s\n";
  table << "flat: one allreduce after backward: " << flat_s << " s = " << 100 * flat_s / (compute_s + flat_s)
        << "% of a step\n";
  for (double bucket_mb : {1.0, 4.0, 25.0}) {
    GradientSynchronizer sync(group, params, bucket_mb);
    double step_s = 0, wait_s = 0;
    size_t in_backward = 0;
    for (int i = 0; i < iterations; ++i) {
      group.barrier();
      const auto start = std::chrono::steady_clock::now();
      model->zero_grad();
      sync.begin_backward(true);
      step_loss(model, batch).backward();
      sync.finish();
      step_s += seconds_since(start) / iterations;
      wait_s += sync.stats().wait_s / iterations;
      in_backward = sync.stats().launched_in_backward;
    }
    table << "buckets of " << bucket_mb << " MB (" << sync.stats().buckets << ", " << in_backward
          << " launched in backward): step " << step_s << " s, finish() waited " << wait_s << " s, step - compute = "
          << step_s - compute_s << " s (" << 100 * (step_s - compute_s) / step_s << "% of a step)\n";
  }
  if (world.rank == 0) std::cout << table.str() << std::flush;
  return 0;
}

}  // namespace asr_test
