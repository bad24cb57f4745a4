// The worker side of the distributed tests, and the binary's main: started with ASR_DIST_SCENARIO set
// (distributed_launcher.h), the binary runs that scenario as one rank and exits; otherwise it runs gtest.
// Each scenario checks what it can itself (exit 0 = as expected) and saves tensors for the parent to compare.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include "asr/distributed/gradient_sync.h"
#include "asr/distributed/module_broadcast.h"
#include "asr/distributed/process_group.h"
#include "asr/errors.h"
#include "distributed_fixtures.h"
#include "distributed_launcher.h"

namespace asr_test {
namespace {

using namespace asr::distributed;

ProcessGroupOptions gloo(double timeout_s) {
  ProcessGroupOptions o;
  o.backend = "gloo";
  o.timeout_s = timeout_s;
  return o;
}

int fail(const std::string& what) {
  std::cerr << "worker check failed: " << what << std::endl;
  return 3;
}

// Ranks start from different weights and BatchNorm statistics; after the broadcast all hold rank 0's.
// Also the host-side helpers: sums, MAX of a stop flag, rank 0's text, barrier.
int broadcast_scenario(const WorldInfo& world, const std::string& dir) {
  torch::manual_seed(100 + world.rank);
  asr::ConformerCTC model(asr::test::tiny_model());
  for (auto& b : model->buffers()) b.fill_(world.rank + 1);
  ProcessGroup group(world, gloo(20));
  broadcast_parameters_and_buffers(*model, group);
  std::vector<torch::Tensor> state = model->parameters();
  for (const auto& b : model->buffers()) state.push_back(b);
  torch::save(state, rank_file(dir, "broadcast", world.rank));

  for (auto& b : model->buffers()) b.fill_(10 * (world.rank + 1));
  broadcast_buffers(*model, group);
  for (const auto& b : model->buffers()) {
    if (b.ne(10).any().item<bool>()) return fail("broadcast_buffers left a buffer unequal to rank 0's");
  }
  const auto sums = group.allreduce_sum({1.5 * (world.rank + 1), 10.0});
  if (sums != std::vector<double>{4.5, 20.0}) return fail("allreduce_sum gave " + std::to_string(sums[0]));
  if (group.allreduce_max(world.rank == 1 ? 5 : 2) != 5) return fail("allreduce_max is not 5");
  const std::string text = "plan \xC3\xBC {\"epoch\": 3}";
  if (group.broadcast_string(world.rank == 0 ? text : "ignored") != text) return fail("broadcast_string lost bytes");
  if (!group.broadcast_string(world.rank == 0 ? "" : "ignored").empty()) {
    return fail("an empty string arrived non-empty");
  }
  group.barrier();
  return 0;
}

// Each rank backpropagates half the batch with the bucketed synchroniser, once in one pass and once as
// two accumulated micro-batches; the parent compares both with world 1 on the whole batch.
int gradients_scenario(const WorldInfo& world, const std::string& dir) {
  auto model = equivalence_model();
  const auto batch = equivalence_batch();
  ProcessGroup group(world, gloo(30));
  broadcast_parameters_and_buffers(*model, group);
  // Small buckets, so the tiny model's ~0.3 MB of gradients spread over several.
  GradientSynchronizer sync(group, model->parameters(), 0.02);
  const int64_t first = 2 * world.rank;

  sync.begin_backward(true);
  contract_loss(model, batch, {first, first + 1}).backward();
  sync.finish();
  const auto& stats = sync.stats();
  std::cout << "buckets " << stats.buckets << ", launched in backward " << stats.launched_in_backward << std::endl;
  if (stats.buckets < 3) return fail("expected several buckets, got " + std::to_string(stats.buckets));
  if (stats.launched_in_backward == 0) return fail("no bucket went out during backward");
  torch::save(gradients(model), rank_file(dir, "grads", world.rank));

  for (auto& p : model->parameters()) p.mutable_grad().zero_();
  sync.begin_backward(false);
  contract_loss(model, batch, {first}).backward();
  sync.begin_backward(true);
  contract_loss(model, batch, {first + 1}).backward();
  sync.finish();
  torch::save(gradients(model), rank_file(dir, "grads-accumulated", world.rank));
  return 0;
}

// Three layers; rank 0's loss uses `a` and `b`, rank 1's only `a`, nobody's `c`. Buckets of one parameter,
// in reverse order b, a, c: rank 0 launches b's and a's during backward, rank 1 (b never ready) launches
// all in finish(). The in-order launch must still pair the ranks' collectives; b's sum is rank 0's
// gradient, c's gradient zeros on both ranks.
int unused_parameter_scenario(const WorldInfo& world, const std::string& dir) {
  torch::manual_seed(3);
  torch::nn::Linear a(4, 4), b(4, 4), c(4, 4);
  std::vector<torch::Tensor> params;
  for (auto* layer : {&c, &a, &b}) {
    for (const auto& p : (*layer)->parameters()) params.push_back(p);
  }
  ProcessGroup group(world, gloo(20));
  GradientSynchronizer sync(group, params, 1e-6);
  const auto x = torch::ones({2, 4}) * (world.rank + 1);
  sync.begin_backward(true);
  auto h = a(x);
  (world.rank == 0 ? b(h).sum() : h.sum()).backward();
  sync.finish();
  const size_t launched = sync.stats().launched_in_backward;
  if (launched != (world.rank == 0 ? 4u : 0u)) return fail(std::to_string(launched) + " buckets launched in backward");
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) grads.push_back(p.grad());
  torch::save(grads, rank_file(dir, "unused", world.rank));
  return 0;
}

// Rank 1 dies (SIGKILL) with a large allreduce in flight, or (stalled) never joins it; rank 0's allreduce
// must throw E_DISTRIBUTED, not hang. Rank 0 then writes kRankZeroFailed (with how long it took, for the log).
int lost_peer_scenario(const WorldInfo& world, const std::string& dir, bool killed) {
  const double timeout_s = 4;
  ProcessGroup group(world, gloo(timeout_s));
  group.allreduce_sum(torch::ones({8}));  // both connected and answering
  // 128 MB: the collective must still be in flight when rank 1 dies. Rank 1's share runs on Gloo's worker thread
  // while its main thread sleeps, so with 64 MB and a 50 ms sleep the allreduce sometimes completed first on a
  // quiet machine and rank 0 had nothing to fail on (seen once in a full ctest run).
  auto big = torch::ones({32 * 1024 * 1024});
  if (world.rank == 1) {
    if (killed) {
      auto pending = group.allreduce_sum_async(big);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      ::raise(SIGKILL);
    }
    // Alive and silent until rank 0 has failed, so rank 0 fails by its timeout, not by a closed socket.
    while (!std::filesystem::exists(dir + "/" + kRankZeroFailed)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    group.allreduce_sum(big);
  } catch (const asr::Error& e) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "allreduce failed after " << elapsed << " s: " << e.what() << std::endl;
    std::ofstream(dir + "/" + kRankZeroFailed) << elapsed;
    return e.code() == asr::codes::kDistributed ? 0 : fail("code " + e.code());
  }
  return fail("the allreduce returned although rank 1 is gone");
}

const std::map<std::string, std::function<int(const WorldInfo&, const std::string&)>>& scenarios() {
  static const std::map<std::string, std::function<int(const WorldInfo&, const std::string&)>> all = {
      {"broadcast", broadcast_scenario},
      {"gradients", gradients_scenario},
      {"unused", unused_parameter_scenario},
      {"killed", [](const WorldInfo& w, const std::string& d) { return lost_peer_scenario(w, d, true); }},
      {"stalled", [](const WorldInfo& w, const std::string& d) { return lost_peer_scenario(w, d, false); }},
  };
  return all;
}

}  // namespace

// Defined in test_distributed_bench.cpp.
int bench_scenario(const WorldInfo& world, const std::string& dir);

int run_worker(const std::string& scenario) {
  torch::set_num_threads(1);
  const char* dir = std::getenv(kOutputDirVariable);
  try {
    const auto world = world_from_environment();
    if (scenario == "bench") return bench_scenario(world, dir ? dir : ".");
    const auto found = scenarios().find(scenario);
    if (found == scenarios().end()) return fail("unknown scenario " + scenario);
    return found->second(world, dir ? dir : ".");
  } catch (const std::exception& e) {
    std::cerr << "worker threw: " << e.what() << std::endl;
    return 2;
  }
}

}  // namespace asr_test

int main(int argc, char** argv) {
  if (const char* scenario = std::getenv(asr_test::kScenarioVariable)) return asr_test::run_worker(scenario);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
