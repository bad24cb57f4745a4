// The Trainer attached to a world (trainer.h: attach_world): real 2-process runs over Gloo on 127.0.0.1 (the
// workers are this binary started again, trainer_world_workers.cpp) against world-1 runs in this process.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "asr/errors.h"
#include "asr/train_loop.h"
#include "distributed_launcher.h"
#include "trainer_world_fixtures.h"

namespace asr_test {
namespace {

// Runs both ranks of `scenario` and fails the test with their logs unless both exit 0.
void run_world(const std::string& scenario, const std::string& dir) {
  const auto result = launch_ranks(scenario, 2, {0, 1}, dir, 300);
  for (const auto& rank : result.ranks) {
    ASSERT_TRUE(rank.exited && rank.exit_code == 0) << describe(rank);
  }
}

void expect_close(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b, double rtol, double atol,
                  const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto x = a[i].to(torch::kDouble), y = b[i].to(torch::kDouble);
    EXPECT_TRUE(torch::allclose(x, y, rtol, atol))
        << what << " tensor " << i << ": max difference " << (x - y).abs().max().item<double>();
  }
}

void expect_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << what << " tensor " << i;
}

bool ends_with(const std::string& text, const std::string& end) {
  return text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(TrainerWorld, ShardRangesCoverTheBatchContiguously) {
  EXPECT_EQ(asr::shard_range(5, 0, 2), std::make_pair(int64_t{0}, int64_t{2}));
  EXPECT_EQ(asr::shard_range(5, 1, 2), std::make_pair(int64_t{2}, int64_t{5}));
  EXPECT_EQ(asr::shard_range(1, 0, 2), std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_EQ(asr::shard_range(1, 1, 2), std::make_pair(int64_t{0}, int64_t{1}));
  EXPECT_THROW(asr::shard_range(4, 2, 2), asr::Error);
}

TEST(TrainerWorld, SliceRowsTrimsThePaddingOfTheShare) {
  const auto batch = asr::test::random_batch(3, {10, 30, 20}, 4);
  const auto share = asr::slice_rows(batch, 0, 1);
  EXPECT_EQ(share.features.sizes(), (std::vector<int64_t>{1, 10, 80}));
  EXPECT_EQ(share.ids, std::vector<std::string>{"utt0"});
  EXPECT_EQ(asr::batch_rows(asr::slice_rows(batch, 2, 2)), 0);
}

// World 2 x B/2 against world 1 x B for five steps, with an uneven split (5) and an empty share (1).
TEST(TrainerWorld, TwoRanksOnHalfBatchesTrainAsOneProcessOnTheWholeBatch) {
  TempDir dir;
  run_world("equivalence", dir.path().string());
  torch::set_num_threads(1);
  asr::Trainer single(asr::test::fixed_batch_model(), quiet_train(7));
  const auto reference = asr::train_batches(single, same_audio_store(), five_step_plan());
  // What trainer_state() lists, by name.
  std::vector<std::string> names;
  for (const auto& item : single.model()->named_parameters()) names.push_back(item.key());
  for (const auto& item : single.model()->named_buffers()) names.push_back("buffer " + item.key());
  const size_t params = single.model()->parameters().size();
  for (const char* moment : {"exp_avg ", "exp_avg_sq "}) {
    for (size_t i = 0; i < params; ++i) names.push_back(moment + names[i]);
  }
  names.push_back("global_step");
  const auto expected = trainer_state(single);
  for (int rank : {0, 1}) {
    const std::string at = "rank " + std::to_string(rank);
    const auto steps = load_tensors(world_file(dir.path().string(), "losses", rank));
    expect_close({steps[0]}, {losses_of(reference.steps)}, 1e-5, 1e-6, at + " losses");
    expect_close({steps[1]}, {grad_norms_of(reference.steps)}, 1e-4, 1e-6, at + " gradient norms");
    const auto state = load_tensors(world_file(dir.path().string(), "state", rank));
    ASSERT_EQ(state.size(), names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      // BatchNorm's running statistics follow rank 0's, whose share of the one-utterance step was empty.
      if (names[i].rfind("buffer ", 0) == 0) continue;
      // Two biases have gradients that are zero in exact arithmetic: the depthwise convolution's (BatchNorm
      // subtracts it again) and attention's key bias (softmax cancels it). What is left is float noise that
      // changes with the summation order, and Adam turns noise into steps of up to lr, so those entries are
      // left out; everything else must agree. Their moments stay near zero and are compared.
      const bool moment = names[i].rfind("exp_avg", 0) == 0;
      auto x = state[i].to(torch::kDouble), y = expected[i].to(torch::kDouble);
      if (!moment && ends_with(names[i], "sequential.2.bias")) continue;
      if (!moment && ends_with(names[i], "self_attn.in_proj_bias")) {
        const int64_t d = x.size(0) / 3;
        x = torch::cat({x.narrow(0, 0, d), x.narrow(0, 2 * d, d)});
        y = torch::cat({y.narrow(0, 0, d), y.narrow(0, 2 * d, d)});
      }
      EXPECT_TRUE(torch::allclose(x, y, 1e-4, 5e-5))
          << at << " " << names[i] << ": max difference " << (x - y).abs().max().item<double>();
    }
  }
  expect_equal(load_tensors(world_file(dir.path().string(), "state", 0)),
               load_tensors(world_file(dir.path().string(), "state", 1)), "rank 0 vs rank 1 state");
  // Shares: ids of this rank's utterances, global counts, one time per rank.
  const auto shares0 = load_tensors(world_file(dir.path().string(), "shares", 0));
  const auto shares1 = load_tensors(world_file(dir.path().string(), "shares", 1));
  const std::vector<int64_t> own0{2, 2, 0, 2, 1}, own1{2, 3, 1, 3, 2}, global{4, 5, 1, 5, 3};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(shares0[i][0].item<int64_t>(), own0[i]) << "step " << i;
    EXPECT_EQ(shares1[i][0].item<int64_t>(), own1[i]) << "step " << i;
    EXPECT_EQ(shares0[i][1].item<int64_t>(), global[i]) << "step " << i;
    EXPECT_EQ(shares1[i][2].item<int64_t>(), 2) << "step " << i;
  }
}

TEST(TrainerWorld, AttachGivesEveryRankRankZerosWeightsMomentsEmaAndStep) {
  TempDir dir;
  run_world("attach", dir.path().string());
  const auto attached0 = load_tensors(world_file(dir.path().string(), "attached", 0));
  const auto attached1 = load_tensors(world_file(dir.path().string(), "attached", 1));
  expect_equal(attached0, attached1, "after attach");
  asr::ConformerCTC model(asr::test::fixed_batch_model());
  const size_t params = model->parameters().size(), buffers = model->buffers().size();
  ASSERT_EQ(attached1.size(), params + buffers + params + 1 + 2 * params + 1) << "the state has no moving average";
  EXPECT_EQ(attached1[params + buffers + params].item<int64_t>(), 2) << "rank 1 took rank 0's EMA update count";
  EXPECT_EQ(attached1.back().item<int64_t>(), 2) << "rank 1 took rank 0's global step";
  EXPECT_GT(attached1[attached1.size() - 2].abs().sum().item<double>(), 0) << "rank 1 has rank 0's exp_avg_sq";
  // Different shares, different BatchNorm statistics: after the steps everything still agrees.
  expect_equal(load_tensors(world_file(dir.path().string(), "trained", 0)),
               load_tensors(world_file(dir.path().string(), "trained", 1)), "after two steps on different shares");
}

TEST(TrainerWorld, AStopOnOneRankStopsBothAfterTheSameStep) {
  TempDir dir;
  run_world("stop", dir.path().string());
  for (int rank : {0, 1}) {
    const auto outcome = load_tensors(world_file(dir.path().string(), "stop", rank))[0];
    EXPECT_EQ(outcome[0].item<int64_t>(), 2) << "rank " << rank << " steps";
    EXPECT_EQ(outcome[1].item<int64_t>(), 1) << "rank " << rank << " cancelled";
  }
}

TEST(TrainerWorld, StopAndResumeAtWorldTwoReplaysBitwiseWithDropoutAndSpecAugment) {
  TempDir dir;
  run_world("resume-full", dir.path().string());
  run_world("resume-first", dir.path().string());
  run_world("resume-rest", dir.path().string());
  const auto full = load_tensors(world_file(dir.path().string(), "resume-full", 0))[0];
  const auto first = load_tensors(world_file(dir.path().string(), "resume-first", 0))[0];
  for (int rank : {0, 1}) {
    const auto rest = load_tensors(world_file(dir.path().string(), "resume-rest", rank))[0];
    ASSERT_EQ(rest.numel(), 3);
    EXPECT_TRUE(torch::equal(torch::cat({first, rest}), full))
        << "rank " << rank << ": " << torch::cat({first, rest}) << " vs " << full;
  }
}

TEST(TrainerWorld, ShardedEvaluationOfRankZerosCheckpointEqualsOneProcess) {
  TempDir dir;
  torch::set_num_threads(1);
  asr::Trainer single(asr::test::tiny_model(), quiet_train(7));
  const auto store = varied_store();
  asr::train_batches(single, store, {{0, 1, 2}, {3, 4, 5}});
  single.save_checkpoint(dir.path().string() + "/trained.ckpt", {});
  const auto reference = asr::evaluate_batches(single, *store, {{0, 1, 2}, {3, 4}, {5}});
  run_world("evaluate", dir.path().string());
  std::set<std::string> shared;
  for (int rank : {0, 1}) {
    const auto r = load_tensors(world_file(dir.path().string(), "eval", rank))[0];
    EXPECT_NEAR(r[0].item<double>(), reference.loss, 1e-5 * reference.loss) << "rank " << rank << " loss";
    EXPECT_DOUBLE_EQ(r[1].item<double>(), reference.cer) << "rank " << rank;
    EXPECT_DOUBLE_EQ(r[2].item<double>(), reference.wer) << "rank " << rank;
    EXPECT_EQ(r[3].item<double>(), 6) << "rank " << rank;
    std::istringstream lines(read_text(dir.path().string() + "/eval-ids-rank" + std::to_string(rank)));
    for (std::string line; std::getline(lines, line);) shared.insert(line);
  }
  std::set<std::string> expected;
  for (size_t i = 0; i < reference.ids.size(); ++i) expected.insert(reference.ids[i] + "=" + reference.hypotheses[i]);
  EXPECT_EQ(shared, expected);
}

}  // namespace
}  // namespace asr_test
