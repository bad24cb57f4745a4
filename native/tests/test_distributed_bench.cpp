// Rank side of the allreduce measurement (TwoRanks.DISABLED_ReportsTheAllreduceShareOfAnXsStep): the xs
// model's gradients summed over Gloo on 127.0.0.1, as one flat buffer after backward and in buckets during
// it, against the step's compute alone. Rank 0 prints the table.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <sstream>

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
  return torch::ctc_loss(log_probs.transpose(0, 1), batch.targets, out_lengths.cpu(), batch.target_lengths, asr::kBlank,
                         at::Reduction::Sum, true) /
         8.0;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
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
  // Rounds interleave the variants so that load from other processes on the machine spreads over all of
  // them; medians, since one descheduled round can double a time.
  const int rounds = 5;
  const std::vector<double> bucket_sizes{1.0, 4.0, 25.0};
  std::vector<std::unique_ptr<GradientSynchronizer>> syncs;
  for (double mb : bucket_sizes) syncs.push_back(std::make_unique<GradientSynchronizer>(group, params, mb));
  std::vector<double> compute, flat_step, flat_allreduce;
  std::vector<std::vector<double>> bucket_step(bucket_sizes.size()), bucket_wait(bucket_sizes.size());
  for (int round = 0; round <= rounds; ++round) {
    const bool record = round > 0;  // the first is a warm-up
    group.barrier();
    auto start = std::chrono::steady_clock::now();
    model->zero_grad();
    step_loss(model, batch).backward();
    if (record) compute.push_back(seconds_since(start));

    group.barrier();
    start = std::chrono::steady_clock::now();
    model->zero_grad();
    step_loss(model, batch).backward();
    const auto reduce_start = std::chrono::steady_clock::now();
    std::vector<torch::Tensor> parts;
    for (const auto& p : params) parts.push_back(p.grad().reshape(-1));
    auto flat = torch::cat(parts);
    group.allreduce_sum(flat);
    int64_t offset = 0;
    for (auto& p : params) {
      p.mutable_grad().copy_(flat.narrow(0, offset, p.numel()).view(p.sizes()));
      offset += p.numel();
    }
    if (record) {
      flat_allreduce.push_back(seconds_since(reduce_start));
      flat_step.push_back(seconds_since(start));
    }

    for (size_t k = 0; k < syncs.size(); ++k) {
      group.barrier();
      start = std::chrono::steady_clock::now();
      model->zero_grad();
      syncs[k]->begin_backward(true);
      step_loss(model, batch).backward();
      syncs[k]->finish();
      if (record) {
        bucket_step[k].push_back(seconds_since(start));
        bucket_wait[k].push_back(syncs[k]->stats().wait_s);
      }
    }
  }

  const double compute_s = median(compute);
  std::ostringstream table;
  table << "xs: " << numel << " parameters (" << numel * 4 / 1e6 << " MB of gradients), batch 4 x ~4 s per rank, "
        << "1 thread per rank, medians of " << rounds << " rounds\n";
  table << "compute (forward+backward, no sync): " << compute_s << " s\n";
  const double flat_s = median(flat_step);
  table << "flat: one allreduce after backward: allreduce " << median(flat_allreduce) << " s, step " << flat_s
        << " s, sync share " << 100 * (flat_s - compute_s) / flat_s << "%\n";
  for (size_t k = 0; k < syncs.size(); ++k) {
    const double step_s = median(bucket_step[k]);
    table << "buckets of " << bucket_sizes[k] << " MB (" << syncs[k]->stats().buckets << ", "
          << syncs[k]->stats().launched_in_backward << " launched in backward): step " << step_s
          << " s, finish() waited " << median(bucket_wait[k]) << " s, sync share "
          << 100 * (step_s - compute_s) / step_s << "%\n";
  }
  if (world.rank == 0) std::cout << table.str() << std::flush;
  return 0;
}

}  // namespace asr_test
