// CTC prefix beam search: agreement with greedy where it must agree, the path-sum case greedy gets
// wrong, errors, and a tiny trained model on which beam is no worse than greedy.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstdio>

#include "asr/beam_search.h"
#include "asr/errors.h"
#include "asr/metrics.h"
#include "test_model_helpers.h"

namespace asr {
namespace {

// (B, T, V) log-probabilities whose every frame puts >= 0.8 on one random token (blank favoured, as in a
// trained model); the rest is spread at random over the other tokens.
torch::Tensor peaked_log_probs(uint64_t seed, int64_t b, int64_t t) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto rest = at::rand({b, t, kVocabSize}, gen, torch::kDouble);
  auto best = at::randint(0, kVocabSize, {b, t, 1}, gen, torch::TensorOptions().dtype(torch::kLong));
  best.masked_fill_(at::rand({b, t, 1}, gen, torch::kDouble).lt(0.4), kBlank);
  const auto peak = 0.8 + 0.15 * at::rand({b, t, 1}, gen, torch::kDouble);
  rest.scatter_(2, best, 0.0);
  rest = rest / rest.sum(2, true) * (1 - peak);
  return torch::log(rest.scatter(2, best, peak)).to(torch::kFloat);
}

// A (T, V) tensor from per-frame probabilities of the listed tokens; the others share 1e-6 each.
torch::Tensor frames_of(const std::vector<std::vector<std::pair<int64_t, double>>>& frames) {
  auto p = torch::full({static_cast<int64_t>(frames.size()), kVocabSize}, 1e-6, torch::kDouble);
  for (size_t t = 0; t < frames.size(); ++t) {
    for (const auto& [token, prob] : frames[t]) p[t][token] = prob;
  }
  return torch::log(p / p.sum(1, true));
}

TEST(BeamSearch, WidthOneEqualsGreedyOnPeakedRandomLogProbs) {
  const auto log_probs = peaked_log_probs(11, 16, 60);
  const auto lengths = torch::tensor({60, 59, 31, 1, 0, 60, 45, 12, 60, 60, 2, 33, 58, 17, 60, 40}, torch::kLong);
  const auto greedy = ctc_greedy_decode(log_probs, lengths);
  const auto beam = ctc_beam_decode(log_probs, lengths, 1);
  ASSERT_EQ(beam.size(), greedy.size());
  int64_t tokens = 0;
  for (size_t b = 0; b < greedy.size(); ++b) {
    EXPECT_EQ(beam[b], greedy[b]) << "row " << b;
    tokens += static_cast<int64_t>(greedy[b].size());
  }
  EXPECT_GT(tokens, 100) << "the fixture should decode to real text, not blanks";
}

TEST(BeamSearch, WiderBeamsKeepTheGreedyAnswerWhenTheModelIsSure) {
  const auto log_probs = peaked_log_probs(12, 4, 50);
  const auto lengths = torch::full({4}, 50, torch::kLong);
  const auto greedy = ctc_greedy_decode(log_probs, lengths);
  // Not a theorem (a wide beam may rightly overrule greedy), but on output this peaked no competing
  // prefix gathers more mass than the greedy one: a width-8 search that disagrees has a bug.
  EXPECT_EQ(ctc_beam_decode(log_probs, lengths, 8), greedy);
}

TEST(BeamSearch, APrefixWhosePathsSumHigherBeatsTheBestSinglePath) {
  // Two frames, blank 0.6 / 'a' 0.4 each. Best single path: blank blank -> "" (0.36). But "a" collects
  // a·a, a·blank and blank·a: 0.16 + 0.24 + 0.24 = 0.64.
  const int64_t a = encode_text("a").front();
  const auto lp = frames_of({{{kBlank, 0.6}, {a, 0.4}}, {{kBlank, 0.6}, {a, 0.4}}});
  EXPECT_TRUE(ctc_greedy_decode(lp.unsqueeze(0), torch::tensor({2}, torch::kLong))[0].empty());
  EXPECT_EQ(ctc_prefix_beam_search(lp, 2), std::vector<int64_t>{a});
  EXPECT_EQ(ctc_prefix_beam_search(lp, 16), std::vector<int64_t>{a});
}

TEST(BeamSearch, WidthOneStillSumsPathsSoItCanDifferFromGreedy) {
  // Greedy follows a, blank, a -> "aa". Width 1 keeps only "a" but with all its paths: after frame 2
  // P("a") = 0.52 (0.275 ending in blank); at frame 3 staying "a" (0.52·0.35 + 0.25·0.4 = 0.28) beats
  // "aa" (0.275·0.4 = 0.11), so the header does not promise greedy's answer for width 1.
  const int64_t a = encode_text("a").front(), c = encode_text("c").front(), b = encode_text("b").front();
  const auto lp = frames_of(
      {{{a, 0.55}, {kBlank, 0.45}}, {{kBlank, 0.5}, {a, 0.45}, {c, 0.05}}, {{a, 0.4}, {kBlank, 0.35}, {b, 0.25}}});
  EXPECT_EQ(decode_tokens(ctc_greedy_decode(lp.unsqueeze(0), torch::tensor({3}, torch::kLong))[0]), "aa");
  EXPECT_EQ(decode_tokens(ctc_prefix_beam_search(lp, 1)), "a");
}

TEST(BeamSearch, RepeatsNeedABlankBetweenThemAndMergeWithout) {
  // "aa" needs a blank between the a's; "a a" frames without one collapse into "a", whose paths merge.
  const int64_t a = encode_text("a").front(), b = encode_text("b").front();
  const auto lp = frames_of({{{a, 0.9}, {kBlank, 0.1}}, {{kBlank, 0.9}, {a, 0.1}}, {{a, 0.9}, {b, 0.1}}});
  EXPECT_EQ(decode_tokens(ctc_prefix_beam_search(lp, 4)), "aa");
  const auto merged = frames_of({{{a, 0.9}, {kBlank, 0.1}}, {{a, 0.9}, {kBlank, 0.1}}, {{a, 0.9}, {b, 0.1}}});
  EXPECT_EQ(decode_tokens(ctc_prefix_beam_search(merged, 4)), "a");
}

TEST(BeamSearch, RejectsBadWidthsAndShapes) {
  const auto lp = torch::zeros({3, kVocabSize});
  for (const int64_t width : {int64_t{0}, int64_t{-1}, kMaxBeamWidth + 1}) {
    try {
      ctc_prefix_beam_search(lp, width);
      ADD_FAILURE() << "width " << width << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), codes::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("beam width"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(ctc_prefix_beam_search(torch::zeros({kVocabSize}), 4), Error);
  EXPECT_THROW(ctc_beam_decode(torch::zeros({2, 3, kVocabSize}), torch::tensor({3}), 4), Error);
  EXPECT_TRUE(ctc_prefix_beam_search(torch::zeros({0, kVocabSize}), 4).empty());
}

TEST(BeamSearch, OnATinyTrainedModelBeamIsNoWorseThanGreedy) {
  Trainer trainer(test::fixed_batch_model(), test::fixed_batch_train());
  const auto batch = test::random_batch(3, {120, 100, 90, 80}, 8);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(trainer.train_step(batch).finite);

  const auto greedy = trainer.transcribe(batch);
  const auto beam = transcribe_beam(trainer, batch, 8);
  ASSERT_EQ(beam.size(), batch.texts.size());
  const auto greedy_cer = character_errors(batch.texts, greedy).rate();
  const auto beam_cer = character_errors(batch.texts, beam).rate();
  std::printf("tiny model on its training batch: greedy CER %.3f, beam-8 CER %.3f\n", greedy_cer, beam_cer);
  EXPECT_LT(greedy_cer, 0.9) << "the model should have learnt something of its batch";
  EXPECT_LE(beam_cer, greedy_cer) << "greedy " << greedy_cer << " beam " << beam_cer;
  EXPECT_TRUE(trainer.model()->is_training()) << "transcribe_beam must restore the training mode";
  EXPECT_EQ(transcribe_beam(trainer, batch, 1).size(), batch.texts.size());
}

}  // namespace
}  // namespace asr
