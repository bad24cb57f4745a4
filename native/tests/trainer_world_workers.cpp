// The worker side of the data-parallel Trainer tests, and the binary's main: started with ASR_DIST_SCENARIO
// set (distributed_launcher.h), the binary runs that scenario as one rank of a Trainer attached to a world
// over Gloo and exits; otherwise it runs gtest. Each scenario writes what the parent compares.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>

#include "asr/distributed/process_group.h"
#include "asr/distributed/trainer_collectives.h"
#include "asr/errors.h"
#include "asr/train_loop.h"
#include "distributed_launcher.h"
#include "trainer_world_fixtures.h"

namespace asr_test {
namespace {

using namespace asr::distributed;

std::shared_ptr<asr::Collectives> join(const WorldInfo& world) {
  ProcessGroupOptions options;
  options.backend = "gloo";
  options.timeout_s = 30;
  return trainer_collectives(std::make_shared<ProcessGroup>(world, options));
}

// World 2 on five_step_plan (even, uneven and empty shares); rank 1 starts from another seed. Writes the
// per-step losses and the final state.
int equivalence(const WorldInfo& world, const std::string& dir) {
  asr::Trainer trainer(asr::test::fixed_batch_model(), quiet_train(world.rank == 0 ? 7 : 99));
  trainer.attach_world(join(world));
  const auto result = asr::train_batches(trainer, same_audio_store(), five_step_plan());
  save_tensors({losses_of(result.steps), grad_norms_of(result.steps)}, world_file(dir, "losses", world.rank));
  save_tensors(trainer_state(trainer), world_file(dir, "state", world.rank));
  std::vector<torch::Tensor> shares;
  for (const auto& step : result.steps) {
    shares.push_back(torch::tensor(
        {static_cast<int64_t>(step.ids.size()), step.utterances, static_cast<int64_t>(step.rank_seconds.size())}));
  }
  save_tensors(shares, world_file(dir, "shares", world.rank));
  return 0;
}

// Rank 0 trains two steps on its own first (so it has AdamW moments, a moving average and a global step);
// rank 1 is a fresh trainer from another seed. After attach both hold rank 0's state; then they train on
// different shares.
int attach(const WorldInfo& world, const std::string& dir) {
  auto train = quiet_train(world.rank == 0 ? 7 : 99);
  train.ema_decay = 0.9;
  asr::Trainer trainer(asr::test::fixed_batch_model(), train);
  const auto store = varied_store();
  if (world.rank == 0) asr::train_batches(trainer, store, {{0, 1}, {2, 3}});
  trainer.attach_world(join(world));
  save_tensors(trainer_state(trainer), world_file(dir, "attached", world.rank));
  asr::train_batches(trainer, store, {{0, 1, 2, 3}, {1, 3, 4, 5}});
  save_tensors(trainer_state(trainer), world_file(dir, "trained", world.rank));
  return 0;
}

// Rank 1 asks to stop before the third step; both ranks must stop there.
int stop(const WorldInfo& world, const std::string& dir) {
  asr::Trainer trainer(asr::test::fixed_batch_model(), quiet_train(7));
  trainer.attach_world(join(world));
  size_t done = 0;
  const auto result = asr::train_batches(
      trainer, varied_store(), five_step_plan(), [&] { return world.rank == 1 && done == 2; },
      [&](size_t, const asr::StepResult&) { ++done; });
  save_tensors({torch::tensor({static_cast<int64_t>(result.steps.size()), int64_t{result.cancelled}})},
               world_file(dir, "stop", world.rank));
  return 0;
}

// Dropout and SpecAugment on. "full" trains six steps; "first" trains three and rank 0 saves a checkpoint;
// "rest" starts new processes in which rank 0 loads it (rank 1 starts from another seed) and trains the
// last three. Each writes its losses.
std::vector<std::vector<int64_t>> six_steps() {
  auto plan = five_step_plan();
  plan.push_back({0, 1, 2, 3, 4, 5});
  return plan;
}

int resume(const WorldInfo& world, const std::string& dir, const std::string& phase) {
  auto train = asr::test::tiny_train(phase == "rest" && world.rank == 1 ? 99 : 7);
  asr::Trainer trainer(asr::test::tiny_model(), train);
  if (phase == "rest" && world.rank == 0) trainer.load_checkpoint(dir + "/step3.ckpt");
  trainer.attach_world(join(world));
  auto plan = six_steps();
  if (phase == "first") plan.resize(3);
  if (phase == "rest") plan.erase(plan.begin(), plan.begin() + 3);
  const auto result = asr::train_batches(trainer, varied_store(), plan);
  if (phase == "first" && world.rank == 0) trainer.save_checkpoint(dir + "/step3.ckpt", {});
  save_tensors({losses_of(result.steps)}, world_file(dir, "resume-" + phase, world.rank));
  return 0;
}

// Rank 0 loads the parent's checkpoint, rank 1 does not; both evaluate their shares.
int evaluate(const WorldInfo& world, const std::string& dir) {
  asr::Trainer trainer(asr::test::tiny_model(), quiet_train(world.rank == 0 ? 7 : 99));
  if (world.rank == 0) trainer.load_checkpoint(dir + "/trained.ckpt");
  trainer.attach_world(join(world));
  const auto store = varied_store();
  const auto result = asr::evaluate_batches(trainer, *store, {{0, 1, 2}, {3, 4}, {5}});
  save_tensors(
      {torch::tensor({result.loss, result.cer, result.wer, static_cast<double>(result.utterances)}, torch::kDouble)},
      world_file(dir, "eval", world.rank));
  std::ofstream(dir + "/eval-ids-rank" + std::to_string(world.rank)) << [&] {
    std::string ids;
    for (size_t i = 0; i < result.ids.size(); ++i) ids += result.ids[i] + "=" + result.hypotheses[i] + "\n";
    return ids;
  }();
  return 0;
}

const std::map<std::string, std::function<int(const WorldInfo&, const std::string&)>>& scenarios() {
  static const std::map<std::string, std::function<int(const WorldInfo&, const std::string&)>> all = {
      {"equivalence", equivalence},
      {"attach", attach},
      {"stop", stop},
      {"resume-full", [](const WorldInfo& w, const std::string& d) { return resume(w, d, "full"); }},
      {"resume-first", [](const WorldInfo& w, const std::string& d) { return resume(w, d, "first"); }},
      {"resume-rest", [](const WorldInfo& w, const std::string& d) { return resume(w, d, "rest"); }},
      {"evaluate", evaluate},
  };
  return all;
}

int run_worker(const std::string& scenario) {
  torch::set_num_threads(1);
  const char* dir = std::getenv(kOutputDirVariable);
  try {
    const auto found = scenarios().find(scenario);
    if (found == scenarios().end()) {
      std::cerr << "unknown scenario " << scenario << std::endl;
      return 3;
    }
    return found->second(world_from_environment(), dir ? dir : ".");
  } catch (const std::exception& e) {
    std::cerr << "worker threw: " << e.what() << std::endl;
    return 2;
  }
}

}  // namespace
}  // namespace asr_test

int main(int argc, char** argv) {
  if (const char* scenario = std::getenv(asr_test::kScenarioVariable)) return asr_test::run_worker(scenario);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
