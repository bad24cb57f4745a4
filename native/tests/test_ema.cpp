// The moving average of the weights (asr/ema.h) inside a Trainer: the average itself against a hand
// computation, its checkpoint round trip and exact resume, evaluation and transcription with it, and beam
// search as the evaluation's decoder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "asr/beam_search.h"
#include "asr/errors.h"
#include "asr/trainer.h"
#include "temp_dir.h"
#include "test_model_helpers.h"

namespace asr {
namespace {

using asr_test::TempDir;

std::vector<torch::Tensor> weights_of(Trainer& trainer) {
  std::vector<torch::Tensor> out;
  for (const auto& p : trainer.model()->parameters()) out.push_back(p.detach().clone());
  return out;
}

// The checkpoint's ema_state_dict, parameters only, in the model's order.
std::vector<torch::Tensor> ema_of(Trainer& trainer) {
  const auto root = trainer.snapshot({}).dict.toGenericDict();
  const auto ema = root.at("ema_state_dict").toGenericDict();
  std::vector<torch::Tensor> out;
  for (const auto& item : trainer.model()->named_parameters()) out.push_back(ema.at(item.key()).toTensor());
  return out;
}

int64_t ema_updates_of(Trainer& trainer) { return trainer.snapshot({}).dict.toGenericDict().at("ema_updates").toInt(); }

bool bitwise_equal(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0;
}

void expect_bitwise_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                          const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(bitwise_equal(a[i], b[i])) << what << ": tensor " << i;
}

TEST(Ema, TheAverageEqualsOneComputedByHandFromTheRecordedWeights) {
  auto train = test::fixed_batch_train();
  // 0.2 is below the warm-up's (1 + n) / (10 + n) from the third update on, so both branches of the
  // per-update decay are taken.
  train.ema_decay = 0.2;
  Trainer trainer(test::fixed_batch_model(), train);
  const auto batch = test::random_batch(5, {90, 70, 60}, 6);
  std::vector<torch::Tensor> expected;
  for (const auto& w : weights_of(trainer)) expected.push_back(w.to(torch::kDouble));
  for (int n = 0; n < 5; ++n) {
    ASSERT_TRUE(trainer.train_step(batch).updated);
    const double d = std::min(0.2, (1.0 + n) / (10.0 + n));
    const auto w = weights_of(trainer);
    for (size_t i = 0; i < w.size(); ++i) expected[i] = d * expected[i] + (1 - d) * w[i].to(torch::kDouble);
  }
  const auto ema = ema_of(trainer);
  ASSERT_EQ(ema.size(), expected.size());
  for (size_t i = 0; i < ema.size(); ++i) {
    EXPECT_TRUE(torch::allclose(ema[i].to(torch::kDouble), expected[i], 1e-5, 1e-6)) << "parameter " << i;
  }
  EXPECT_EQ(ema_updates_of(trainer), 5);
  const auto root = trainer.snapshot({}).dict.toGenericDict();
  EXPECT_EQ(root.at("ema_decay").toDouble(), 0.2);
  const auto state = root.at("ema_state_dict").toGenericDict();
  for (const auto& item : trainer.model()->named_buffers()) {
    EXPECT_TRUE(bitwise_equal(state.at(item.key()).toTensor(), item.value())) << item.key() << " is the model's";
  }
}

TEST(Ema, ResumeReplaysTheUninterruptedRunBitwiseWeightsAndAverageIncluded) {
  TempDir dir("asr-ema-test");
  auto train = test::tiny_train(13);  // dropout and SpecAugment on: the generators must round-trip too
  train.ema_decay = 0.9;
  std::vector<Batch> batches;
  for (int i = 0; i < 6; ++i) batches.push_back(test::random_batch(200 + i, {80 - i, 66, 60}, 6));

  std::vector<double> straight;
  Trainer uninterrupted(test::tiny_model(), train);
  for (const auto& b : batches) straight.push_back(uninterrupted.train_step(b).loss);

  const auto path = dir.file("ema.pt");
  std::vector<double> resumed;
  {
    Trainer first(test::tiny_model(), train);
    for (int i = 0; i < 3; ++i) resumed.push_back(first.train_step(batches[i]).loss);
    first.save_checkpoint(path, {});
  }
  Trainer second(test::tiny_model(), train);
  second.load_checkpoint(path);
  EXPECT_EQ(ema_updates_of(second), 3);
  for (size_t i = 3; i < batches.size(); ++i) resumed.push_back(second.train_step(batches[i]).loss);

  ASSERT_EQ(resumed.size(), straight.size());
  for (size_t i = 0; i < straight.size(); ++i) {
    EXPECT_EQ(std::memcmp(&straight[i], &resumed[i], sizeof(double)), 0) << "step " << i + 1;
  }
  expect_bitwise_equal(weights_of(second), weights_of(uninterrupted), "weights");
  expect_bitwise_equal(ema_of(second), ema_of(uninterrupted), "moving average");
  EXPECT_EQ(ema_updates_of(second), 6);
}

TEST(Ema, ACheckpointWithoutAnAverageStartsOneAtItsWeights) {
  TempDir dir("asr-ema-test");
  const auto path = dir.file("plain.pt");
  Trainer plain(test::fixed_batch_model(), test::fixed_batch_train());
  plain.train_step(test::random_batch(6, {70, 60}, 5));
  plain.save_checkpoint(path, {});
  EXPECT_FALSE(plain.snapshot({}).dict.toGenericDict().contains("ema_state_dict"));

  auto train = test::fixed_batch_train();
  train.ema_decay = 0.99;
  Trainer averaging(test::fixed_batch_model(), train);
  averaging.train_step(test::random_batch(7, {70, 60}, 5));  // an average of other weights, to be replaced
  averaging.load_checkpoint(path);
  expect_bitwise_equal(ema_of(averaging), weights_of(plain), "average after loading a plain checkpoint");
  EXPECT_EQ(ema_updates_of(averaging), 0);
}

TEST(Ema, EvaluationWithTheAverageRestoresTheTrainedWeightsBitwise) {
  auto train = test::fixed_batch_train();
  train.ema_decay = 0.5;
  Trainer trainer(test::fixed_batch_model(), train);
  const auto batch = test::random_batch(8, {100, 80, 70}, 6);
  for (int i = 0; i < 6; ++i) trainer.train_step(batch);
  const auto before = weights_of(trainer);

  const auto raw = trainer.evaluate({batch});
  const auto ema = trainer.evaluate({batch}, {0, Weights::kEma});
  expect_bitwise_equal(weights_of(trainer), before, "weights after evaluating the average");
  EXPECT_NE(raw.loss, ema.loss) << "the average is not the weights after 6 fast-moving updates";
  EXPECT_EQ(trainer.evaluate({batch}).loss, raw.loss);
  EXPECT_TRUE(trainer.model()->is_training());

  // What the average evaluates to is what the average's weights give when they are the model's.
  auto averaged_model = test::fixed_batch_train();
  Trainer copy(test::fixed_batch_model(), averaged_model);
  {
    torch::NoGradGuard no_grad;
    const auto averaged = ema_of(trainer);
    auto params = copy.model()->parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(averaged[i]);
    auto buffers = copy.model()->buffers();
    auto own = trainer.model()->buffers();
    for (size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(own[i]);
  }
  EXPECT_EQ(copy.evaluate({batch}).loss, ema.loss);
}

TEST(Ema, WithoutAnAverageTheEmaWeightsAreAClearError) {
  Trainer trainer(test::fixed_batch_model(), test::fixed_batch_train());
  EXPECT_FALSE(trainer.has_ema_weights());
  try {
    trainer.evaluate({test::random_batch(9, {60}, 4)}, {0, Weights::kEma});
    ADD_FAILURE() << "evaluated EMA weights that do not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), codes::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("ema_decay"), std::string::npos) << e.what();
  }
  auto bad = test::fixed_batch_train();
  bad.ema_decay = 1.0;
  try {
    Trainer rejected(test::fixed_batch_model(), bad);
    ADD_FAILURE() << "ema_decay 1 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ema_decay"), std::string::npos) << e.what();
  }
}

TEST(Ema, ATrainerWithoutEmaStillTranscribesWithACheckpointsAverage) {
  TempDir dir("asr-ema-test");
  const auto path = dir.file("ema.pt");
  auto train = test::fixed_batch_train();
  train.ema_decay = 0.5;
  Trainer trainer(test::fixed_batch_model(), train);
  const auto batch = test::random_batch(10, {100, 80}, 6);
  for (int i = 0; i < 20; ++i) trainer.train_step(batch);
  trainer.save_checkpoint(path, {});
  std::vector<std::string> expected;
  trainer.with_weights(Weights::kEma, [&] { expected = transcribe_beam(trainer, batch, 4); });

  Trainer inference(test::fixed_batch_model(), test::fixed_batch_train());  // ema_decay 0, as transcribe builds it
  inference.load_checkpoint(path);
  ASSERT_TRUE(inference.has_ema_weights());
  std::vector<std::string> texts;
  inference.with_weights(Weights::kEma, [&] { texts = transcribe_beam(inference, batch, 4); });
  EXPECT_EQ(texts, expected);
}

TEST(EvalBeam, OnATinyTrainedModelTheBeamsCerIsNoWorseThanGreedys) {
  Trainer trainer(test::fixed_batch_model(), test::fixed_batch_train());
  const auto batch = test::random_batch(3, {120, 100, 90, 80}, 8);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(trainer.train_step(batch).finite);
  const auto greedy = trainer.evaluate({batch});
  const auto beam = trainer.evaluate({batch}, {8, Weights::kRaw});
  std::printf("evaluate on the training batch: greedy CER %.3f, beam-8 CER %.3f\n", greedy.cer, beam.cer);
  EXPECT_LT(greedy.cer, 0.9) << "the model should have learnt something of its batch";
  EXPECT_LE(beam.cer, greedy.cer);
  EXPECT_EQ(beam.loss, greedy.loss) << "the decoder does not change the loss";
  EXPECT_THROW(trainer.evaluate({batch}, {kMaxBeamWidth + 1, Weights::kRaw}), Error);
}

}  // namespace
}  // namespace asr
