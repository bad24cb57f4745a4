// Training step, schedule, devices, checkpoints (round trip, errors, Python interop) and exact resume.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include <signal.h>
#include <sys/resource.h>

#include "asr/checkpoint.h"
#include "asr/errors.h"
#include "remove_tree.h"
#include "temp_dir.h"
#include "test_model_helpers.h"

namespace fs = std::filesystem;

namespace asr {
namespace {

using TempDir = asr_test::TempDir;

template <typename F>
Error expect_error(F&& f, const std::string& code) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e;
  }
  ADD_FAILURE() << "expected asr::Error " << code;
  return Error("none", "none");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Schedule, NoamWarmsUpLinearlyThenDecaysAsInverseSquareRoot) {
  EXPECT_DOUBLE_EQ(noam_lr(1e-3, 10, 1), 1e-4);
  EXPECT_DOUBLE_EQ(noam_lr(1e-3, 10, 10), 1e-3);
  EXPECT_DOUBLE_EQ(noam_lr(1e-3, 10, 40), 0.5e-3);
  EXPECT_DOUBLE_EQ(noam_lr(1e-3, 0, 123), 1e-3);
}

TEST(SpecAugment, TimeSpansStayInsideEachRowAndWidthsStayWithinBounds) {
  SpecAugmentOptions options;
  options.freq_masks = 0;
  options.time_masks = 2;
  options.time_width_fraction = 0.1;
  const auto lengths = torch::tensor({100, 50, 20, 7});
  torch::manual_seed(3);
  for (int round = 0; round < 50; ++round) {
    const auto mask = spec_augment_mask(options, lengths, 100, 80);
    ASSERT_EQ(mask.sizes(), (std::vector<int64_t>{4, 100, 80}));
    for (int64_t b = 0; b < 4; ++b) {
      const auto len = lengths[b].item<int64_t>();
      const auto frames = mask[b].any(1);  // (T)
      EXPECT_FALSE(frames.narrow(0, len, 100 - len).any().item<bool>()) << "row " << b << " masks padding";
      EXPECT_LE(frames.sum().item<int64_t>(), 2 * static_cast<int64_t>(len * 0.1)) << "row " << b;
      EXPECT_TRUE(torch::equal(mask[b].all(1), frames)) << "a time mask covers every bin";
    }
  }
  options.freq_masks = 2;
  options.freq_width = 27;
  options.time_masks = 0;
  torch::manual_seed(4);
  const auto first = spec_augment_mask(options, lengths, 100, 80);
  for (int64_t b = 0; b < 4; ++b) {
    const auto bins = first[b][0];
    EXPECT_LE(bins.sum().item<int64_t>(), 54);
    EXPECT_TRUE(torch::equal(first[b], bins.unsqueeze(0).expand({100, 80}))) << "a band spans every frame";
  }
  torch::manual_seed(4);
  EXPECT_TRUE(torch::equal(first, spec_augment_mask(options, lengths, 100, 80))) << "same generator state, same masks";
}

TEST(Device, CpuAutoAndUnavailableCuda) {
  EXPECT_EQ(resolve_device("cpu").type(), torch::kCPU);
  EXPECT_EQ(resolve_device("auto").is_cuda(), torch::cuda::is_available());
  expect_error([] { resolve_device("gpu"); }, codes::kInvalidArgument);
  expect_error([] { resolve_device("cuda:x"); }, codes::kInvalidArgument);
  if (!torch::cuda::is_available()) {
    const auto e = expect_error([] { resolve_device("cuda"); }, codes::kCudaUnavailable);
    EXPECT_TRUE(contains(e.what(), "cuda"));
    auto on_cuda = test::tiny_train();
    on_cuda.device = "cuda:0";
    expect_error([&] { Trainer(test::tiny_model(), on_cuda); }, codes::kCudaUnavailable);
  } else {
    const auto past_last = "cuda:" + std::to_string(torch::cuda::device_count());
    expect_error([&] { resolve_device(past_last); }, codes::kCudaUnavailable);
  }
}

TEST(Training, LossFallsOnAFixedTinyBatch) {
  Trainer trainer(test::fixed_batch_model(), test::fixed_batch_train());
  const auto batch = test::random_batch(3, {120, 100, 90, 80}, 8);
  std::vector<double> losses;
  for (int i = 0; i < 25; ++i) {
    const auto r = trainer.train_step(batch);
    ASSERT_TRUE(r.finite);
    EXPECT_TRUE(r.updated);
    EXPECT_GT(r.grad_norm, 0.0);
    losses.push_back(r.loss);
  }
  EXPECT_LT(losses.back(), 0.6 * losses.front()) << "first " << losses.front() << " last " << losses.back();
  EXPECT_EQ(trainer.global_step(), 25);
}

TEST(Training, AStepOnAnotherThreadUsesTheConfiguredThreadCount) {
  auto train = test::tiny_train();
  train.threads = 1;
  Trainer trainer(test::tiny_model(), train);
  const auto batch = test::random_batch(9, {40}, 3);
  int seen = -1;
  std::thread worker([&] {
    trainer.train_step(batch);
    seen = at::get_num_threads();
  });
  worker.join();
  EXPECT_EQ(seen, 1);
}

// The allocator keeps freed activations (trainer.h, keep_freed_memory): once warm, a training step reuses
// the memory of the step before instead of faulting it in again page by page (glibc's defaults trim the
// heap top and unmap large blocks on every free).
TEST(Training, StepsReuseTheMemoryOfTheStepBefore) {
  Trainer trainer(test::tiny_model(), test::tiny_train());
  EXPECT_TRUE(keep_freed_memory()) << "not applied (MALLOC_*/GLIBC_TUNABLES set in the environment?)";
  const auto batch = test::random_batch(16, std::vector<int64_t>(16, 400), 20);
  for (int i = 0; i < 3; ++i) trainer.train_step(batch);
  rusage before{}, after{};
  ::getrusage(RUSAGE_SELF, &before);
  for (int i = 0; i < 3; ++i) trainer.train_step(batch);
  ::getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_minflt - before.ru_minflt, 3000) << "minor page faults in 3 warm steps";
}

// A trainer started ahead of its run warms the heap (runtime.h, warm_heap): afterwards, blocks the size of
// activations come from pages already resident. Warming more than the whole heap holds makes the heap grow,
// so the blocks below cannot all fit in memory earlier tests left free.
TEST(Training, AWarmedHeapServesLaterAllocationsWithoutPageFaults) {
  constexpr std::size_t kBlock = 4 << 20;
  constexpr std::size_t kBlocks = 64;  // 256 MiB
  ASSERT_TRUE(warm_heap(heap_bytes() + kBlock * kBlocks));
  EXPECT_GE(heap_bytes(), kBlock * kBlocks);
  rusage before{}, after{};
  ::getrusage(RUSAGE_SELF, &before);
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < kBlocks; ++i) {
    blocks.push_back(std::malloc(kBlock));
    ASSERT_NE(blocks.back(), nullptr);
    std::memset(blocks.back(), 1, kBlock);
  }
  ::getrusage(RUSAGE_SELF, &after);
  for (void* block : blocks) std::free(block);
  // 65,536 pages were touched; without the warm-up nearly every one is a fault.
  EXPECT_LT(after.ru_minflt - before.ru_minflt, 3000) << "minor page faults touching 256 MiB after warm_heap";
}

TEST(Training, GradientAccumulationUpdatesEveryNthBatch) {
  auto train = test::tiny_train();
  train.grad_accumulation = 2;
  Trainer trainer(test::tiny_model(), train);
  const auto batch = test::random_batch(4, {60, 50}, 5);
  const auto before = trainer.model()->named_parameters()["ctc_head.weight"].clone();
  auto r1 = trainer.train_step(batch);
  EXPECT_FALSE(r1.updated);
  EXPECT_TRUE(torch::equal(before, trainer.model()->named_parameters()["ctc_head.weight"]));
  auto r2 = trainer.train_step(batch);
  EXPECT_TRUE(r2.updated);
  EXPECT_DOUBLE_EQ(r1.lr, r2.lr);  // both batches feed update 1
  EXPECT_FALSE(torch::equal(before, trainer.model()->named_parameters()["ctc_head.weight"]));
}

TEST(Training, EvaluateAndTranscribeDecodeEveryUtterance) {
  Trainer trainer(test::tiny_model(), test::tiny_train());
  const auto batch = test::random_batch(5, {80, 64}, 6);
  const auto result = trainer.evaluate({batch, batch});
  EXPECT_EQ(result.utterances, 4);
  EXPECT_EQ(result.references[1], batch.texts[1]);
  EXPECT_EQ(result.ids[0], "utt0");
  EXPECT_GT(result.loss, 0.0);
  EXPECT_GE(result.cer, 0.0);
  EXPECT_EQ(trainer.transcribe(batch).size(), 2u);
}

TEST(Checkpoint, RoundTripRestoresModelOptimizerAndMeta) {
  TempDir dir("asr-model-test");
  const auto path = dir.file("ckpt.pt");
  Trainer a(test::tiny_model(), test::tiny_train());
  const auto batch = test::random_batch(6, {70, 60}, 6);
  a.train_step(batch);
  a.train_step(batch);
  CheckpointMeta meta;
  meta.epoch = 3;
  meta.step = 2;
  meta.data_seed = 42;
  meta.data_epoch = 3;
  meta.batch_position = 17;
  meta.config_json = R"({"model":"conformer"})";
  meta.metrics_json = R"({"val_cer":0.5})";
  a.save_checkpoint(path, meta);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1) << "temp file left";

  const auto read = read_checkpoint_meta(path);
  EXPECT_EQ(read.epoch, 3);
  EXPECT_EQ(read.global_step, 2);
  EXPECT_EQ(read.data_seed, 42u);
  EXPECT_EQ(read.batch_position, 17);
  EXPECT_EQ(read.config_json, meta.config_json);
  EXPECT_EQ(read.metrics_json, meta.metrics_json);
  EXPECT_EQ(read_checkpoint_model_config(path).d_model, test::tiny_model().d_model);

  Trainer b(test::tiny_model(), test::tiny_train(99));
  const auto loaded = b.load_checkpoint(path);
  EXPECT_EQ(loaded.step, 2);
  EXPECT_EQ(b.global_step(), 2);
  EXPECT_DOUBLE_EQ(b.current_lr(), a.current_lr());
  auto pa = a.model()->named_parameters();
  auto pb = b.model()->named_parameters();
  for (const auto& item : pa) EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  auto ba = a.model()->named_buffers();
  auto bb = b.model()->named_buffers();
  for (const auto& item : ba) EXPECT_TRUE(torch::equal(item.value(), bb[item.key()])) << item.key();
}

TEST(Checkpoint, MissingTruncatedAndForeignFilesFailWithCodes) {
  TempDir dir("asr-model-test");
  expect_error([&] { read_checkpoint_meta(dir.file("absent.pt")); }, codes::kCheckpointNotFound);

  const auto garbage = dir.file("garbage.pt");
  std::ofstream(garbage) << "this is not a checkpoint at all";
  auto e = expect_error([&] { read_checkpoint_meta(garbage); }, codes::kCheckpointCorrupt);
  EXPECT_TRUE(contains(e.what(), garbage));

  const auto empty = dir.file("empty.pt");
  std::ofstream{empty};
  expect_error([&] { read_checkpoint_meta(empty); }, codes::kCheckpointCorrupt);

  Trainer trainer(test::tiny_model(), test::tiny_train());
  const auto good = dir.file("good.pt");
  trainer.save_checkpoint(good, {});
  const auto size = fs::file_size(good);
  for (double keep : {0.5, 0.9, 0.999}) {
    const auto cut = dir.file("cut.pt");
    fs::copy_file(good, cut, fs::copy_options::overwrite_existing);
    fs::resize_file(cut, static_cast<uintmax_t>(size * keep));
    expect_error([&] { trainer.load_checkpoint(cut); }, codes::kCheckpointCorrupt);
  }

  const auto foreign = dir.file("tensor.pt");
  write_checkpoint(foreign, CheckpointSnapshot{torch::ones({3})});
  e = expect_error([&] { trainer.load_checkpoint(foreign); }, codes::kCheckpointCorrupt);
  EXPECT_TRUE(contains(e.what(), "not an asr-trainer checkpoint"));
}

TEST(Checkpoint, CorruptedBytesEitherLoadOrFailWithACodeButNeverCrash) {
  TempDir dir("asr-model-test");
  Trainer trainer(test::tiny_model(), test::tiny_train());
  const auto good = dir.file("good.pt");
  trainer.save_checkpoint(good, {});
  std::ifstream in(good, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::mt19937 rng(5);
  const auto bad = dir.file("bad.pt");
  int failures = 0;
  for (int round = 0; round < 60; ++round) {
    auto copy = bytes;
    // Damage 16 bytes in one spot: the zip directory, the pickle or tensor data, depending on where it lands.
    const size_t at = rng() % (copy.size() - 16);
    for (size_t i = 0; i < 16; ++i) copy[at + i] = static_cast<char>(rng());
    std::ofstream(bad, std::ios::binary | std::ios::trunc)
        .write(copy.data(), static_cast<std::streamsize>(copy.size()));
    try {
      Trainer fresh(test::tiny_model(), test::tiny_train());
      fresh.load_checkpoint(bad);
    } catch (const Error& e) {
      ++failures;
      EXPECT_TRUE(e.code() == codes::kCheckpointCorrupt || e.code() == codes::kShapeMismatch) << e.code() << e.what();
    }
  }
  EXPECT_GT(failures, 0);
}

TEST(Checkpoint, ShapeMismatchNamesTheFirstDifferingKeyAndBothShapes) {
  TempDir dir("asr-model-test");
  const auto path = dir.file("small.pt");
  Trainer(test::tiny_model(), test::tiny_train()).save_checkpoint(path, {});
  auto wider = test::tiny_model();
  wider.ffn_dim = 96;
  Trainer other(wider, test::tiny_train());
  const auto e = expect_error([&] { other.load_checkpoint(path); }, codes::kShapeMismatch);
  EXPECT_TRUE(contains(e.what(), "encoder.conformer_layers.0.ffn1.sequential.1.weight")) << e.what();
  EXPECT_TRUE(contains(e.what(), "[64, 32]")) << e.what();
  EXPECT_TRUE(contains(e.what(), "[96, 32]")) << e.what();

  auto deeper = test::tiny_model();
  deeper.num_layers = 3;
  Trainer third(deeper, test::tiny_train());
  const auto e2 = expect_error([&] { third.load_checkpoint(path); }, codes::kShapeMismatch);
  EXPECT_TRUE(contains(e2.what(), "encoder.conformer_layers.2.")) << e2.what();
}

TEST(Checkpoint, WriteIntoAMissingFolderIsAnIoErrorNamingThePath) {
  TempDir dir("asr-model-test");
  Trainer trainer(test::tiny_model(), test::tiny_train());
  const auto path = dir.file("no/such/folder/ckpt.pt");
  const auto e = expect_error([&] { trainer.save_checkpoint(path, {}); }, codes::kIo);
  EXPECT_TRUE(contains(e.what(), dir.file("no/such/folder"))) << e.what();
}

TEST(Checkpoint, AFailedWriteIsAnIoErrorAndLeavesNeitherTempNorTarget) {
  TempDir dir("asr-model-test");
  Trainer trainer(test::tiny_model(), test::tiny_train());
  const auto path = dir.file("full.pt");
  // A 4 KiB file-size limit makes write() fail with EFBIG part-way, as a full disk fails with ENOSPC.
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    trainer.save_checkpoint(path, {});
  } catch (const Error& e) {
    message = std::string(e.code()) + ": " + e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  EXPECT_TRUE(contains(message, codes::kIo)) << message;
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 0) << "temp file left";
}

// Runs k steps, saves, loads into a fresh trainer and trains on: the losses must equal, bit for bit, those
// of the run that never stopped. Dropout and SpecAugment are on, so the generator state must round-trip.
void expect_exact_resume(int64_t accumulation, int stop_after) {
  TempDir dir("asr-model-test");
  auto train = test::tiny_train(11);
  train.grad_accumulation = accumulation;
  std::vector<Batch> batches;
  for (int i = 0; i < 6; ++i) batches.push_back(test::random_batch(100 + i, {90 - i, 70, 64}, 7));

  std::vector<double> straight;
  {
    Trainer trainer(test::tiny_model(), train);
    for (const auto& b : batches) straight.push_back(trainer.train_step(b).loss);
  }
  std::vector<double> resumed;
  const auto path = dir.file("resume.pt");
  {
    Trainer first(test::tiny_model(), train);
    for (int i = 0; i < stop_after; ++i) resumed.push_back(first.train_step(batches[i]).loss);
    first.save_checkpoint(path, {});
  }
  Trainer second(test::tiny_model(), train);
  second.load_checkpoint(path);
  for (size_t i = stop_after; i < batches.size(); ++i) resumed.push_back(second.train_step(batches[i]).loss);
  ASSERT_EQ(resumed.size(), straight.size());
  for (size_t i = 0; i < straight.size(); ++i) {
    EXPECT_EQ(std::memcmp(&straight[i], &resumed[i], sizeof(double)), 0)
        << "step " << i + 1 << ": " << straight[i] << " vs " << resumed[i];
  }
}

TEST(Resume, LossesAreBitIdenticalToTheUninterruptedRun) { expect_exact_resume(1, 3); }

TEST(Resume, BitIdenticalWhenStoppedInsideAGradientAccumulationCycle) { expect_exact_resume(2, 3); }

TEST(Interop, PythonTorchLoadsTheCheckpointAndTorchaudioConformerAcceptsItsEncoder) {
  if (std::system("/usr/bin/python3 -c 'import torch, torchaudio' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with torch and torchaudio is not installed (scripts/setup.sh installs it)";
  }
  TempDir dir("asr-model-test");
  auto model = test::tiny_model();
  Trainer trainer(model, test::tiny_train());
  trainer.train_step(test::random_batch(8, {80, 66}, 6));
  const auto ckpt = dir.file("interop.pt");
  trainer.save_checkpoint(ckpt, {});

  // The encoder's output on an unpadded input, for the Python side to reproduce with torchaudio's module.
  torch::NoGradGuard no_grad;
  trainer.model()->eval();
  auto encoder = trainer.model()->named_children()["encoder"]->as<ConformerEncoderImpl>();
  auto x = torch::randn({2, 30, model.d_model});
  auto lengths = torch::tensor({30, 30});
  auto y = encoder->forward(x, lengths);
  auto features = torch::randn({2, 60, model.n_mels});
  auto frames = torch::tensor({60, 60});
  auto log_probs = trainer.model()->forward(features, frames).first;
  c10::Dict<std::string, torch::Tensor> probe;
  probe.insert("input", x);
  probe.insert("lengths", lengths);
  probe.insert("output", y);
  probe.insert("features", features);
  probe.insert("frames", frames);
  probe.insert("log_probs", log_probs);
  const auto probe_path = dir.file("probe.pt");
  write_checkpoint(probe_path, CheckpointSnapshot{probe});

  const std::string cmd = "/usr/bin/python3 " ASR_MODEL_TESTS_DIR "/check_torchaudio_interop.py " + ckpt + " " +
                          probe_path + " " + std::to_string(model.d_model) + " " + std::to_string(model.num_heads) +
                          " " + std::to_string(model.ffn_dim) + " " + std::to_string(model.num_layers) + " " +
                          std::to_string(model.conv_kernel);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

}  // namespace
}  // namespace asr
