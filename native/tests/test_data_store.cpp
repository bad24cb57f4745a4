// FeatureStore (cache, invalidation, skips, threads), epoch plans, collation and prefetch.
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "asr/audio.h"
#include "asr/dataset.h"
#include "asr/errors.h"
#include "clip_corpus.h"
#include "data_test_util.h"

using asr_test::TempDir;

namespace {

struct Corpus : asr_test::ClipCorpus {
  explicit Corpus(int n) : ClipCorpus(n, "LJ001") {}
};

bool same_features(const asr::FeatureStore& a, int64_t i, const asr::FeatureStore& b, int64_t j) {
  return a.frames(i) == b.frames(j) && torch::equal(a.features(i), b.features(j));
}

TEST(FeatureStore, FirstOpenComputesAndSecondOpenReadsTheCacheOnly) {
  Corpus corpus(12);
  const auto first = asr::FeatureStore::open(corpus.specs, corpus.options());
  EXPECT_EQ(first->computed(), 12);
  EXPECT_EQ(first->cached(), 0);
  ASSERT_EQ(first->size(), 12);
  EXPECT_TRUE(first->skipped().empty());
  EXPECT_TRUE(std::filesystem::exists(first->cache_path()));
  // One file in the cache folder, no temporary left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(corpus.dir.file("cache")), {}), 1);

  const auto second = asr::FeatureStore::open(corpus.specs, corpus.options());
  EXPECT_EQ(second->computed(), 0);
  EXPECT_EQ(second->cached(), 12);
  ASSERT_EQ(second->size(), 12);
  for (int64_t i = 0; i < 12; ++i) {
    EXPECT_EQ(second->id(i), corpus.specs[static_cast<size_t>(i)].id);
    EXPECT_TRUE(same_features(*first, i, *second, i)) << i;
  }
}

TEST(FeatureStore, TheCacheFileIsMemoryMapped) {
  Corpus corpus(2);
  asr::FeatureStore::open(corpus.specs, corpus.options());
  const auto store = asr::FeatureStore::open(corpus.specs, corpus.options());
  std::ifstream maps("/proc/self/maps");
  const std::string all((std::istreambuf_iterator<char>(maps)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find(store->cache_path()), std::string::npos);
}

TEST(FeatureStore, ASecondOpenOfUnchangedInputReadsNoWav) {
  Corpus corpus(3);
  const auto first = asr::FeatureStore::open(corpus.specs, corpus.options());
  // Same size and mtime, unreadable content: only a read of the WAV could notice.
  for (const auto& spec : corpus.specs) {
    struct stat st {};
    ASSERT_EQ(stat(spec.wav_path.c_str(), &st), 0);
    asr_test::write_text_file(spec.wav_path, std::string(static_cast<size_t>(st.st_size), 'x'));
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(utimensat(AT_FDCWD, spec.wav_path.c_str(), times, 0), 0);
  }
  const auto second = asr::FeatureStore::open(corpus.specs, corpus.options());
  EXPECT_EQ(second->computed(), 0);
  EXPECT_TRUE(second->skipped().empty());
  for (int64_t i = 0; i < 3; ++i) EXPECT_TRUE(same_features(*first, i, *second, i)) << i;
}

TEST(FeatureStore, FeaturesAreTheNormalisedFbankOfTheResampledWav) {
  Corpus corpus(3);
  const auto store = asr::FeatureStore::open(corpus.specs, corpus.options());
  for (int64_t i = 0; i < 3; ++i) {
    auto samples = asr::load_audio_16k(corpus.specs[static_cast<size_t>(i)].wav_path);
    auto expected = asr::normalize_features(asr::fbank(torch::from_blob(samples.data(), {(int64_t)samples.size()})));
    EXPECT_TRUE(torch::allclose(store->features(i), expected, 1e-5, 1e-5)) << i;
    EXPECT_EQ(store->features(i).size(1), 80);
  }
}

TEST(FeatureStore, AChangedWavRecomputesExactlyThatEntry) {
  Corpus corpus(8);
  const auto before = asr::FeatureStore::open(corpus.specs, corpus.options());
  const std::string touched = corpus.specs[3].wav_path;
  asr_test::write_audio(touched, asr_test::babble(1.0, 22050, 999), 22050);
  asr_test::bump_mtime(touched, 5);

  const auto after = asr::FeatureStore::open(corpus.specs, corpus.options());
  EXPECT_EQ(after->computed(), 1);
  EXPECT_EQ(after->cached(), 7);
  for (int64_t i = 0; i < 8; ++i) {
    EXPECT_EQ(same_features(*before, i, *after, i), i != 3) << i;
  }
  const auto again = asr::FeatureStore::open(corpus.specs, corpus.options());
  EXPECT_EQ(again->computed(), 0);
}

TEST(FeatureStore, SegmentsOfOneFileAreEntriesOfTheirOwnAndPartOfTheCacheKey) {
  Corpus corpus(1);
  const std::string wav = corpus.specs[0].wav_path;  // 0.6 s
  std::vector<asr::UtteranceSpec> specs{{"head", wav, "go", {0.0, 0.3}}, {"tail", wav, "go", {0.3, 0.0}}};
  const auto first = asr::FeatureStore::open(specs, corpus.options());
  ASSERT_EQ(first->size(), 2);
  const auto head = asr::load_audio_16k(wav, 1.0, {0.0, 0.3});
  const auto expected = asr::normalize_features(
      asr::fbank(torch::from_blob(const_cast<float*>(head.data()), {static_cast<int64_t>(head.size())})));
  EXPECT_TRUE(torch::allclose(first->features(0), expected, 1e-5, 1e-5));
  EXPECT_FALSE(same_features(*first, 0, *first, 1));

  specs[1].segment.offset_s = 0.2;  // same id, same file, another stretch
  const auto moved = asr::FeatureStore::open(specs, corpus.options());
  EXPECT_EQ(moved->computed(), 1);
  EXPECT_TRUE(same_features(*first, 0, *moved, 0));
  EXPECT_GT(moved->frames(1), first->frames(1));
}

TEST(FeatureStore, AChangedTranscriptRecomputesThatEntry) {
  Corpus corpus(5);
  asr::FeatureStore::open(corpus.specs, corpus.options());
  corpus.specs[1].text = "go right";
  const auto after = asr::FeatureStore::open(corpus.specs, corpus.options());
  EXPECT_EQ(after->computed(), 1);
  EXPECT_EQ(after->text(1), "go right");
}

TEST(FeatureStore, AChangedFeatureSettingInvalidatesTheFile) {
  Corpus corpus(4);
  asr::FeatureStore::open(corpus.specs, corpus.options());
  auto options = corpus.options();
  options.fbank.low_freq = 40;
  const auto changed = asr::FeatureStore::open(corpus.specs, options);
  EXPECT_EQ(changed->computed(), 4);
  options.fbank.num_mel_bins = 40;
  const auto fewer_bins = asr::FeatureStore::open(corpus.specs, options);
  EXPECT_EQ(fewer_bins->computed(), 4);
  EXPECT_EQ(fewer_bins->features(0).size(1), 40);
}

TEST(FeatureStore, RemovedAndAddedUtterancesKeepTheOthersCached) {
  Corpus corpus(6);
  asr::FeatureStore::open(corpus.specs, corpus.options());
  auto fewer = corpus.specs;
  fewer.erase(fewer.begin() + 2);
  const auto store = asr::FeatureStore::open(fewer, corpus.options());
  EXPECT_EQ(store->computed(), 0);
  EXPECT_EQ(store->size(), 5);
  const auto all = asr::FeatureStore::open(corpus.specs, corpus.options());
  EXPECT_EQ(all->computed(), 1);
  EXPECT_EQ(all->cached(), 5);
}

TEST(FeatureStore, ACorruptCacheFileIsRecomputedNotTrusted) {
  Corpus corpus(4);
  const auto first = asr::FeatureStore::open(corpus.specs, corpus.options());
  const auto path = first->cache_path();
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size - 10);
  const auto second = asr::FeatureStore::open(corpus.specs, corpus.options());
  EXPECT_EQ(second->computed(), 4);
  asr_test::write_text_file(path, "garbage");
  EXPECT_EQ(asr::FeatureStore::open(corpus.specs, corpus.options())->computed(), 4);
  EXPECT_EQ(asr::FeatureStore::open(corpus.specs, corpus.options())->computed(), 0);
}

TEST(FeatureStore, BadInputIsSkippedWithReasonsAndRemembered) {
  Corpus corpus(3);
  auto specs = corpus.specs;
  const auto wav = [&](const std::string& name) { return corpus.dir.file("wavs/" + name); };
  asr_test::write_text_file(wav("empty.wav"), "");
  asr_test::write_text_file(wav("garbage.wav"), "RIFF but not really a wave file");
  asr_test::write_audio(wav("no-samples.wav"), {}, 22050);
  asr_test::write_audio(wav("short.wav"), asr_test::babble(0.2, 22050, 5), 22050);
  specs.push_back({"missing", wav("missing.wav"), "go left"});
  specs.push_back({"empty", wav("empty.wav"), "go left"});
  specs.push_back({"garbage", wav("garbage.wav"), "go left"});
  specs.push_back({"no-samples", wav("no-samples.wav"), "go left"});
  specs.push_back({"no-text", corpus.specs[0].wav_path, ""});
  specs.push_back({"upper-case", corpus.specs[0].wav_path, "Go left"});
  // 0.2 s: 18 frames, 3 after subsampling, fewer than the 7 tokens of "go left".
  specs.push_back({"too-short", wav("short.wav"), "go left"});

  const auto store = asr::FeatureStore::open(specs, corpus.options());
  EXPECT_EQ(store->size(), 3);
  std::map<std::string, std::string> reasons(store->skipped().begin(), store->skipped().end());
  ASSERT_EQ(reasons.size(), 7u);
  EXPECT_EQ(reasons["missing"], "missing wav");
  EXPECT_EQ(reasons["empty"], "empty wav");
  EXPECT_EQ(reasons["no-samples"], "empty wav");
  EXPECT_EQ(reasons["garbage"].rfind("unreadable wav: ", 0), 0u) << reasons["garbage"];
  EXPECT_EQ(reasons["no-text"], "empty text");
  EXPECT_EQ(reasons["upper-case"].rfind("text outside the vocabulary: ", 0), 0u) << reasons["upper-case"];
  EXPECT_EQ(reasons["too-short"], "too short: 3 frames after subsampling for 7 tokens");

  const auto again = asr::FeatureStore::open(specs, corpus.options());
  EXPECT_EQ(again->computed(), 0);
  EXPECT_EQ(again->cached(), 10);
  EXPECT_EQ(again->skipped(), store->skipped());
}

TEST(FeatureStore, ThreadCountDoesNotChangeTheFeatures) {
  Corpus corpus(6);
  auto one = corpus.options(1);
  one.cache_dir.clear();  // in memory
  const auto serial = asr::FeatureStore::open(corpus.specs, one);
  const auto parallel = asr::FeatureStore::open(corpus.specs, corpus.options(3));
  EXPECT_TRUE(serial->cache_path().empty());
  for (int64_t i = 0; i < 6; ++i) EXPECT_TRUE(same_features(*serial, i, *parallel, i)) << i;
}

TEST(FeatureStore, ReportsProgressOnTheCallingThread) {
  Corpus corpus(7);
  std::vector<std::pair<int64_t, int64_t>> calls;
  const auto caller = std::this_thread::get_id();
  asr::FeatureStore::open(corpus.specs, corpus.options(), [&](int64_t done, int64_t total) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    calls.emplace_back(done, total);
  });
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls.front(), (std::pair<int64_t, int64_t>(0, 7)));
  EXPECT_EQ(calls.back(), (std::pair<int64_t, int64_t>(7, 7)));
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_GE(calls[i].first, calls[i - 1].first);
}

TEST(FeatureStore, AnExceptionFromProgressAbortsAndWritesNothing) {
  Corpus corpus(6);
  const auto options = corpus.options();
  EXPECT_THROW(asr::FeatureStore::open(corpus.specs, options,
                                       [](int64_t done, int64_t) {
                                         if (done > 0) throw std::runtime_error("cancelled");
                                       }),
               std::runtime_error);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(options.cache_dir), {}), 0);
}

TEST(FeatureStore, RejectsDuplicateIds) {
  Corpus corpus(2);
  auto specs = corpus.specs;
  specs[1].id = specs[0].id;
  try {
    asr::FeatureStore::open(specs, corpus.options());
    FAIL() << "no error";
  } catch (const asr::Error& e) {
    EXPECT_EQ(e.code(), "E_INVALID_ARGUMENT");
  }
}

TEST(FeatureStore, FromAudioBuildsAnInMemoryStore) {
  const auto store = asr::FeatureStore::from_audio(
      {"a", "b", "c"}, {asr_test::babble(1.0, 16000, 1), {}, asr_test::babble(0.5, 16000, 2)},
      {"go left", "go left", "go"});
  EXPECT_EQ(store->size(), 2);
  EXPECT_EQ(store->id(1), "c");
  EXPECT_EQ(store->frames(0), 98);
  EXPECT_EQ(store->skipped().size(), 1u);
  EXPECT_EQ(store->computed(), 3);
}

// A store of many utterances with varied lengths (0.3-6 s), as a real dataset has.
std::shared_ptr<asr::FeatureStore> varied_store(int n) {
  std::mt19937 gen(11);
  std::uniform_real_distribution<double> seconds(0.3, 6.0);
  std::vector<std::string> ids, texts;
  std::vector<std::vector<float>> audio;
  for (int i = 0; i < n; ++i) {
    ids.push_back("u" + std::to_string(i));
    audio.emplace_back(static_cast<size_t>(seconds(gen) * 16000), 0.01f);
    texts.push_back("a");
  }
  return asr::FeatureStore::from_audio(ids, audio, texts);
}

TEST(BatchPlan, IsAPureFunctionOfSeedAndEpoch) {
  const auto store = varied_store(200);
  asr::BatchPlanOptions opts;
  opts.batch_size = 8;
  opts.seed = 42;
  const auto a = asr::plan_epoch(*store, opts, 3);
  EXPECT_EQ(a, asr::plan_epoch(*store, opts, 3));
  EXPECT_NE(a, asr::plan_epoch(*store, opts, 4));
  auto other_seed = opts;
  other_seed.seed = 43;
  EXPECT_NE(a, asr::plan_epoch(*store, other_seed, 3));

  std::multiset<int64_t> seen;
  for (const auto& batch : a) {
    EXPECT_GE(batch.size(), 1u);
    EXPECT_LE(batch.size(), 8u);
    seen.insert(batch.begin(), batch.end());
  }
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 200u);
}

TEST(BatchPlan, BucketingCutsPaddingFarBelowUnbucketed) {
  const auto store = varied_store(400);
  asr::BatchPlanOptions opts;
  opts.batch_size = 16;
  opts.seed = 1;
  const double bucketed = asr::padding_share(*store, asr::plan_epoch(*store, opts, 0));
  opts.bucket = false;
  const double unbucketed = asr::padding_share(*store, asr::plan_epoch(*store, opts, 0));
  std::cout << "padding share, 400 utterances of 0.3-6 s, batch 16: bucketed " << bucketed << ", unbucketed "
            << unbucketed << "\n";
  EXPECT_LT(bucketed, 0.25 * unbucketed);
}

TEST(BatchPlan, MaxFramesBoundsEveryBatchsPaddedSize) {
  const auto store = varied_store(150);
  asr::BatchPlanOptions opts;
  opts.batch_size = 64;
  opts.max_frames = 2000;
  for (const auto& batch : asr::plan_epoch(*store, opts, 0)) {
    int64_t longest = 0;
    for (int64_t i : batch) longest = std::max(longest, store->frames(i));
    EXPECT_LE(longest * static_cast<int64_t>(batch.size()), std::max<int64_t>(2000, longest));
  }
}

TEST(BatchPlan, WithoutShuffleKeepsStoreOrderWhenNotBucketed) {
  const auto store = varied_store(10);
  asr::BatchPlanOptions opts;
  opts.batch_size = 4;
  opts.shuffle = false;
  opts.bucket = false;
  EXPECT_EQ(asr::plan_epoch(*store, opts, 0), (std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}));
  opts.batch_size = 0;
  EXPECT_THROW(asr::plan_epoch(*store, opts, 0), asr::Error);
}

TEST(Collate, PadsFeaturesWithZerosAndTargetsWithBlank) {
  const auto store = asr::FeatureStore::from_audio(
      {"long", "short"}, {asr_test::babble(1.0, 16000, 1), asr_test::babble(0.5, 16000, 2)}, {"go", "a b"});
  const auto batch = asr::collate(*store, {1, 0});
  EXPECT_EQ(batch.features.sizes(), (std::vector<int64_t>{2, 98, 80}));
  EXPECT_EQ(batch.feature_lengths[0].item<int64_t>(), 48);
  EXPECT_EQ(batch.feature_lengths[1].item<int64_t>(), 98);
  EXPECT_TRUE(torch::equal(batch.features[0].narrow(0, 0, 48), store->features(1)));
  EXPECT_EQ(batch.features[0].narrow(0, 48, 50).abs().sum().item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(batch.targets, torch::tensor({{3, 1, 4}, {9, 17, 0}}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(batch.target_lengths, torch::tensor({3, 2}, torch::kInt64)));
  EXPECT_EQ(batch.ids, (std::vector<std::string>{"short", "long"}));
  EXPECT_EQ(batch.texts, (std::vector<std::string>{"a b", "go"}));
}

TEST(Prefetcher, YieldsThePlansBatchesFromTheStartPosition) {
  std::shared_ptr<const asr::FeatureStore> store = varied_store(40);
  asr::BatchPlanOptions opts;
  opts.batch_size = 4;
  const auto plan = asr::plan_epoch(*store, opts, 2);
  asr::Prefetcher prefetcher(store, plan, 3);
  for (size_t i = 3; i < plan.size(); ++i) {
    EXPECT_EQ(prefetcher.position(), static_cast<int64_t>(i));
    auto batch = prefetcher.next();
    ASSERT_TRUE(batch.has_value());
    const auto expected = asr::collate(*store, plan[i]);
    EXPECT_EQ(batch->ids, expected.ids);
    EXPECT_TRUE(torch::equal(batch->features, expected.features));
  }
  EXPECT_FALSE(prefetcher.next().has_value());
  EXPECT_FALSE(prefetcher.next().has_value());
}

TEST(Prefetcher, StopsCleanlyWhenDestroyedMidPlan) {
  std::shared_ptr<const asr::FeatureStore> store = varied_store(40);
  const auto plan = asr::plan_epoch(*store, {}, 0);
  { asr::Prefetcher prefetcher(store, plan, 0); }
  asr::Prefetcher prefetcher(store, plan, 0);
  EXPECT_TRUE(prefetcher.next().has_value());
  EXPECT_THROW(asr::Prefetcher(store, plan, 1000), asr::Error);
}

}  // namespace
