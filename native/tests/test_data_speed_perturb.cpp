// Speed perturbation: the variants the feature store caches per factor, and the per-epoch draw plan_epoch
// makes among them.
#include <torch/torch.h>

#include <array>
#include <filesystem>
#include <iterator>
#include <set>

#include "asr/dataset.h"
#include "asr/errors.h"
#include "clip_corpus.h"
#include "data_test_util.h"

using asr_test::TempDir;

namespace {

// The clips with the factors a run would use.
struct Corpus : asr_test::ClipCorpus {
  explicit Corpus(int n) : ClipCorpus(n, "LJ002") {}
  asr::FeatureStoreOptions options(std::vector<double> factors = {0.9, 1.0, 1.1}) const {
    auto o = ClipCorpus::options();
    o.speed_factors = std::move(factors);
    return o;
  }
  int64_t cache_files() const { return std::distance(std::filesystem::directory_iterator(dir.file("cache")), {}); }
};

size_t choice_of(const asr::FeatureStore& store, double factor) {
  const auto& f = store.speed_factors();
  return static_cast<size_t>(std::find(f.begin(), f.end(), factor) - f.begin());
}

TEST(SpeedPerturb, AFactorOfSpeedGivesAboutOneOverSpeedTheFrames) {
  Corpus corpus(6);
  const auto store = asr::FeatureStore::open(corpus.specs, corpus.options());
  ASSERT_EQ(store->utterances(), 6);
  ASSERT_EQ(store->size(), 18);
  EXPECT_EQ(store->speed_factors(), (std::vector<double>{0.9, 1.0, 1.1}));
  EXPECT_EQ(store->computed(), 18);
  for (int64_t u = 0; u < 6; ++u) {
    const int64_t own = store->frames(u);
    EXPECT_EQ(store->variant(u, choice_of(*store, 1.0)), u);
    for (double factor : {0.9, 1.1}) {
      const int64_t v = store->variant(u, choice_of(*store, factor));
      EXPECT_NE(v, u);
      EXPECT_EQ(store->id(v), store->id(u));
      EXPECT_EQ(store->tokens(v), store->tokens(u));
      // fbank frames are 1 + (samples - 400) / 160, so the window's 400 samples shift the ratio by a frame or two.
      EXPECT_NEAR(static_cast<double>(store->frames(v)), own / factor, 3.0) << u << " at " << factor;
    }
    EXPECT_LT(store->frames(store->variant(u, choice_of(*store, 1.1))), own);
  }
  // The unperturbed file and one per other factor.
  EXPECT_EQ(corpus.cache_files(), 3);
  EXPECT_TRUE(std::filesystem::exists(corpus.dir.file("cache/train.speed1.1.fbank")));
  EXPECT_TRUE(std::filesystem::exists(corpus.dir.file("cache/train.speed0.9.fbank")));
}

TEST(SpeedPerturb, EveryFactorIsCachedOnceAndTheUnperturbedFileServesRunsWithoutIt) {
  Corpus corpus(5);
  const auto first = asr::FeatureStore::open(corpus.specs, corpus.options());
  const auto again = asr::FeatureStore::open(corpus.specs, corpus.options());
  EXPECT_EQ(again->computed(), 0);
  EXPECT_EQ(again->cached(), 15);
  for (int64_t i = 0; i < first->size(); ++i) EXPECT_TRUE(torch::equal(first->features(i), again->features(i))) << i;

  const auto off = asr::FeatureStore::open(corpus.specs, corpus.options({}));
  EXPECT_EQ(off->computed(), 0);
  EXPECT_EQ(off->size(), 5);
  EXPECT_TRUE(off->speed_factors().empty());

  // A new factor computes only its own variants.
  const auto other = asr::FeatureStore::open(corpus.specs, corpus.options({0.8, 1.0}));
  EXPECT_EQ(other->computed(), 5);
  EXPECT_EQ(other->cached(), 5);
  EXPECT_EQ(other->size(), 10);
}

TEST(SpeedPerturb, OneAloneIsOff) {
  Corpus corpus(3);
  const auto store = asr::FeatureStore::open(corpus.specs, corpus.options({1.0}));
  EXPECT_EQ(store->size(), 3);
  EXPECT_TRUE(store->speed_factors().empty());
  EXPECT_EQ(corpus.cache_files(), 1);
}

TEST(SpeedPerturb, ATooShortVariantStandsInWithTheUnperturbedFeatures) {
  Corpus corpus(1);
  // 0.6 s: 13 frames after subsampling at speed 1, 6 at speed 2; the text needs 10.
  corpus.specs[0].text = "turn on it";
  const auto store = asr::FeatureStore::open(corpus.specs, corpus.options({1.0, 2.0}));
  ASSERT_EQ(store->utterances(), 1);
  const int64_t fast = store->variant(0, 1);
  EXPECT_EQ(fast, 1);
  EXPECT_EQ(store->frames(fast), store->frames(0));
  EXPECT_TRUE(torch::equal(store->features(fast), store->features(0)));
  EXPECT_TRUE(store->skipped().empty());
}

TEST(SpeedPerturb, FactorsOutsideTheRangeOrRepeatedAreRefusedWithTheFix) {
  Corpus corpus(1);
  for (const auto& [factors, text] : std::vector<std::pair<std::vector<double>, std::string>>{
           {{0.5}, "speed factor 0.5 is outside (0.5, 2]"},
           {{1.0, 2.5}, "speed factor 2.5 is outside (0.5, 2]"},
           {{1.1, 0.9, 1.1}, "speed factor 1.1 is listed twice"}}) {
    try {
      asr::FeatureStore::open(corpus.specs, corpus.options(factors));
      ADD_FAILURE() << text;
    } catch (const asr::Error& e) {
      EXPECT_EQ(e.code(), asr::codes::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  }
}

TEST(SpeedChoice, IsAPureFunctionOfSeedEpochAndUtteranceAndRoughlyUniform) {
  constexpr int64_t kUtterances = 3000;
  std::array<int, 3> counts{};
  int same_next_epoch = 0, same_other_seed = 0;
  for (int64_t u = 0; u < kUtterances; ++u) {
    const size_t c = asr::speed_choice(7, 3, u, 3);
    ASSERT_LT(c, 3u);
    EXPECT_EQ(c, asr::speed_choice(7, 3, u, 3));
    ++counts[c];
    same_next_epoch += c == asr::speed_choice(7, 4, u, 3);
    same_other_seed += c == asr::speed_choice(8, 3, u, 3);
  }
  // 1000 expected each, standard deviation about 26.
  for (int n : counts) EXPECT_NEAR(n, 1000, 110);
  // Independent draws agree a third of the time.
  EXPECT_NEAR(same_next_epoch, 1000, 110);
  EXPECT_NEAR(same_other_seed, 1000, 110);
}

TEST(BatchPlan, WithSpeedFactorsEachUtteranceAppearsOnceAtItsDrawnSpeed) {
  Corpus corpus(12);
  const auto store = asr::FeatureStore::open(corpus.specs, corpus.options());
  asr::BatchPlanOptions opts;
  opts.batch_size = 4;
  opts.seed = 11;
  const auto plan = asr::plan_epoch(*store, opts, 2);
  // A resume re-plans the epoch: the same batches, at the same speeds.
  EXPECT_EQ(plan, asr::plan_epoch(*store, opts, 2));
  EXPECT_NE(plan, asr::plan_epoch(*store, opts, 3));
  std::set<int64_t> utterances;
  std::set<int64_t> blocks;
  for (const auto& batch : plan) {
    for (int64_t i : batch) {
      const int64_t u = i % store->utterances();
      EXPECT_TRUE(utterances.insert(u).second) << "utterance " << u << " twice";
      EXPECT_EQ(i, store->variant(u, asr::speed_choice(opts.seed, 2, u, 3)));
      blocks.insert(i / store->utterances());
    }
  }
  EXPECT_EQ(utterances.size(), 12u);
  EXPECT_GT(blocks.size(), 1u);
}

TEST(BatchPlan, SpeedFactorsKeepTheEpochsShuffle) {
  Corpus corpus(12);
  const auto perturbed = asr::FeatureStore::open(corpus.specs, corpus.options());
  const auto plain = asr::FeatureStore::open(corpus.specs, corpus.options({}));
  asr::BatchPlanOptions opts;
  opts.batch_size = 5;
  opts.seed = 3;
  opts.bucket = false;  // sorting by length would reorder by the drawn speeds
  auto plan = asr::plan_epoch(*perturbed, opts, 1);
  for (auto& batch : plan) {
    for (auto& i : batch) i %= perturbed->utterances();
  }
  EXPECT_EQ(plan, asr::plan_epoch(*plain, opts, 1));
}

}  // namespace
