// The step loop over a feature store (train_loop.h): it trains what the trainer's own steps train, stops at
// a step boundary when asked, reports each step; and the audio rate rule every caller shares.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "asr/audio.h"
#include "asr/compute_thread.h"
#include "asr/dataset.h"
#include "asr/errors.h"
#include "asr/features.h"
#include "asr/train_loop.h"
#include "data_test_util.h"

namespace asr {
namespace {

std::shared_ptr<const FeatureStore> small_store() {
  std::vector<std::string> ids, texts;
  std::vector<std::vector<float>> samples;
  const std::vector<std::string> words = {"hello world", "one two", "yes", "good morning"};
  for (uint32_t i = 0; i < 4; ++i) {
    ids.push_back("utt" + std::to_string(i));
    samples.push_back(asr_test::babble(1.0 + 0.1 * i, kModelSampleRate, i + 1));
    texts.push_back(words[i]);
  }
  return FeatureStore::from_audio(ids, samples, texts);
}

ModelConfig tiny_model() {
  ModelConfig c;
  c.d_model = 32;
  c.num_layers = 2;
  c.num_heads = 2;
  c.ffn_dim = 64;
  c.conv_kernel = 7;
  return c;
}

TrainConfig tiny_train() {
  TrainConfig t;
  t.warmup_steps = 0;
  t.seed = 3;
  t.threads = 1;
  t.device = "cpu";
  t.spec_augment.enabled = false;
  return t;
}

TEST(TrainLoop, TrainsEachBatchAsTheTrainersOwnStepsWould) {
  const auto store = small_store();
  const std::vector<std::vector<int64_t>> plan = {{0, 1}, {2, 3}, {1, 2}};
  Trainer looped(tiny_model(), tiny_train());
  std::vector<size_t> reported;
  const auto result = train_batches(looped, store, plan, {}, [&](size_t i, const StepResult& step) {
    EXPECT_TRUE(on_compute_thread());
    EXPECT_EQ(step.global_step, static_cast<int64_t>(i) + 1);
    reported.push_back(i);
  });
  EXPECT_FALSE(result.cancelled);
  EXPECT_EQ(reported, (std::vector<size_t>{0, 1, 2}));

  Trainer stepped(tiny_model(), tiny_train());
  ASSERT_EQ(result.steps.size(), plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(stepped.train_step(collate(*store, plan[i])).loss, result.steps[i].loss) << "step " << i;
  }
}

TEST(TrainLoop, BuildTrainerReturnsAtOnceAndTheFutureCarriesTheBuildOrItsError) {
  std::atomic<bool> release{false};
  post_to_compute_thread([&] {
    while (!release.load()) std::this_thread::yield();  // busy, as with another trainer's train() call
  });
  auto built = build_trainer(tiny_model(), tiny_train());
  EXPECT_EQ(built.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  release.store(true);
  EXPECT_EQ(built.get()->global_step(), 0);

  auto bad = tiny_model();
  bad.num_heads = 5;
  auto failed = build_trainer(bad, tiny_train());
  try {
    failed.get();
    FAIL() << "expected asr::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), codes::kInvalidArgument);
  }
}

TEST(TrainLoop, StopEndsTheLoopAtAStepBoundary) {
  const auto store = small_store();
  Trainer trainer(tiny_model(), tiny_train());
  int asked = 0;
  const auto result =
      train_batches(trainer, store, std::vector<std::vector<int64_t>>(10, {0, 1}), [&] { return ++asked > 2; });
  EXPECT_TRUE(result.cancelled);
  EXPECT_EQ(result.steps.size(), 2u);
  EXPECT_EQ(trainer.global_step(), 2);

  const auto none = train_batches(trainer, store, {{0}}, [] { return true; });
  EXPECT_TRUE(none.cancelled);
  EXPECT_TRUE(none.steps.empty());
}

TEST(TrainLoop, EvaluatesAndTranscribesFromTheStore) {
  const auto store = small_store();
  Trainer trainer(tiny_model(), tiny_train());
  const auto eval = evaluate_batches(trainer, *store, {{0, 1}, {2}});
  EXPECT_EQ(eval.utterances, 3);
  EXPECT_EQ(eval.ids, (std::vector<std::string>{"utt0", "utt1", "utt2"}));
  EXPECT_EQ(transcribe_utterances(trainer, *store, {3, 0}).size(), 2u);
}

TEST(ComputeThreadThreads, SetAnswersAtOnceAndAppliesBeforeLaterWork) {
  std::atomic<bool> release{false};
  post_to_compute_thread([&] {
    while (!release.load()) std::this_thread::yield();  // the thread is busy, as with a long train() call
  });
  EXPECT_EQ(set_compute_thread_threads(1), 1);  // returns while the thread is still busy
  EXPECT_EQ(compute_thread_threads(), 1);
  release.store(true);
  int seen = 0;
  run_on_compute_thread([&] { seen = at::get_num_threads(); });
  EXPECT_EQ(seen, 1);
  EXPECT_THROW(set_compute_thread_threads(-1), Error);
}

TEST(AudioRate, OnlyOtherRatesAreResampled) {
  const auto wave = asr_test::sine(440, 0.5, 8000);
  EXPECT_EQ(to_model_rate(wave, kModelSampleRate), wave);
  EXPECT_EQ(to_model_rate(wave, 8000).size(), 2 * wave.size());
  EXPECT_THROW(to_model_rate(wave, 0), Error);
  const auto at_8k = fbank_of_audio(wave, 8000);
  const auto at_16k = fbank(torch::tensor(to_model_rate(wave, 8000)));
  EXPECT_TRUE(torch::equal(at_8k, at_16k));
}

}  // namespace
}  // namespace asr
