// Checkpoint averaging: the mean against a float64 reference, integer buffers, the optimizer state the
// output carries, mismatched inputs, and the output read by the project's loader and by Python's torch.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "asr/checkpoint.h"
#include "asr/checkpoint_average.h"
#include "asr/errors.h"
#include "remove_tree.h"
#include "temp_dir.h"
#include "test_model_helpers.h"

namespace fs = std::filesystem;

namespace asr {
namespace {

using TempDir = asr_test::TempDir;

c10::Dict<c10::IValue, c10::IValue> model_of(const std::string& path) {
  return read_checkpoint(path).dict.toGenericDict().at("model").toGenericDict();
}

// Three checkpoints of one run, a training step apart (so weights and BatchNorm counters all differ).
std::vector<std::string> three_checkpoints(const TempDir& dir) {
  Trainer trainer(test::tiny_model(), test::tiny_train());
  const auto batch = test::random_batch(4, {70, 60}, 6);
  std::vector<std::string> paths;
  for (int i = 0; i < 3; ++i) {
    trainer.train_step(batch);
    CheckpointMeta meta;
    meta.epoch = i + 1;
    meta.metrics_json = R"({"val_cer":0.5})";
    paths.push_back(dir.file("epoch-" + std::to_string(i + 1) + ".pt"));
    trainer.save_checkpoint(paths.back(), meta);
  }
  return paths;
}

template <typename F>
std::string expect_error(F&& f, const std::string& code) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected asr::Error " << code;
  return "";
}

TEST(CheckpointAverage, EachTensorIsTheFloat64MeanAndCountersComeFromTheLast) {
  TempDir dir("asr-average-test");
  const auto inputs = three_checkpoints(dir);
  const auto out = dir.file("average.pt");
  const auto summary = average_checkpoints(inputs, out);
  EXPECT_EQ(summary.checkpoints, 3);
  EXPECT_EQ(summary.global_step, 3);
  EXPECT_GT(summary.copied_tensors, 0) << "the tiny model has BatchNorm counters";

  const auto averaged = model_of(out);
  std::vector<c10::Dict<c10::IValue, c10::IValue>> models;
  for (const auto& path : inputs) models.push_back(model_of(path));
  EXPECT_EQ(averaged.size(), models[0].size());
  int64_t floating = 0;
  for (const auto& item : models[0]) {
    const auto& key = item.key().toStringRef();
    const auto got = averaged.at(key).toTensor();
    const auto a = models[0].at(key).toTensor(), b = models[1].at(key).toTensor(), c = models[2].at(key).toTensor();
    ASSERT_EQ(got.scalar_type(), a.scalar_type()) << key;
    if (a.is_floating_point()) {
      const auto reference =
          ((a.to(torch::kDouble) + b.to(torch::kDouble) + c.to(torch::kDouble)) / 3.0).to(a.scalar_type());
      EXPECT_TRUE(torch::equal(got, reference)) << key;
      ++floating;
    } else {
      EXPECT_TRUE(torch::equal(got, c)) << key << ": integer buffers take the last input's value";
      EXPECT_FALSE(torch::equal(got, a)) << key << ": the fixture should make the counters differ";
    }
  }
  EXPECT_EQ(floating, summary.averaged_tensors);
}

TEST(CheckpointAverage, OutputDropsTheOptimizerMomentsAndLoadsIntoATrainer) {
  TempDir dir("asr-average-test");
  const auto inputs = three_checkpoints(dir);
  const auto out = dir.file("average.pt");
  average_checkpoints(inputs, out);

  const auto root = read_checkpoint(out).dict.toGenericDict();
  const auto optimizer = root.at("optimizer").toGenericDict();
  EXPECT_EQ(optimizer.at("state").toGenericDict().size(), 0u);
  EXPECT_EQ(optimizer.at("param_groups").toListRef().size(), 1u);
  EXPECT_EQ(root.at("averaged_from").toListRef().size(), 3u);
  const auto meta = read_checkpoint_meta(out);
  EXPECT_EQ(meta.epoch, 3);
  EXPECT_EQ(meta.metrics_json, "{}");

  Trainer trainer(test::tiny_model(), test::tiny_train(99));
  EXPECT_EQ(trainer.load_checkpoint(out).global_step, 3);
  EXPECT_EQ(trainer.global_step(), 3);
  const auto averaged = model_of(out);
  for (const auto& item : trainer.model()->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), averaged.at(item.key()).toTensor())) << item.key();
  }
  EXPECT_TRUE(trainer.train_step(test::random_batch(4, {70, 60}, 6)).finite) << "training resumes from an average";
}

TEST(CheckpointAverage, PythonTorchLoadsTheAverage) {
  if (std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with torch is not installed (scripts/setup.sh installs it)";
  }
  TempDir dir("asr-average-test");
  const auto out = dir.file("average.pt");
  average_checkpoints(three_checkpoints(dir), out);
  const std::string cmd =
      "/usr/bin/python3 -c \"import sys, torch; d = torch.load(sys.argv[1], map_location='cpu'); "
      "assert d['optimizer']['state'] == {}, 'moments kept'; "
      "assert len(d['averaged_from']) == 3; "
      "assert all(t.dtype in (torch.float32, torch.int64) for t in d['model'].values())\" " +
      out;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST(CheckpointAverage, MismatchedModelsFailNamingTheKey) {
  TempDir dir("asr-average-test");
  const auto inputs = three_checkpoints(dir);
  const auto out = dir.file("average.pt");

  auto smaller = test::tiny_model();
  smaller.ffn_dim = 48;
  const auto other = dir.file("other.pt");
  Trainer(smaller, test::tiny_train()).save_checkpoint(other, {});
  auto message = expect_error([&] { average_checkpoints({inputs[0], other}, out); }, codes::kShapeMismatch);
  EXPECT_NE(message.find("ffn1.sequential.1.weight"), std::string::npos) << message;
  EXPECT_NE(message.find(other), std::string::npos) << message;

  auto missing = read_checkpoint(inputs[1]).dict.toGenericDict();
  ASSERT_EQ(missing.at("model").toGenericDict().erase("ctc_head.bias"), 1u);
  const auto partial = dir.file("partial.pt");
  write_checkpoint(partial, CheckpointSnapshot{missing});
  message = expect_error([&] { average_checkpoints({inputs[0], partial}, out); }, codes::kShapeMismatch);
  EXPECT_NE(message.find("'ctc_head.bias'"), std::string::npos) << message;
  message = expect_error([&] { average_checkpoints({partial, inputs[0]}, out); }, codes::kShapeMismatch);
  EXPECT_NE(message.find("'ctc_head.bias'"), std::string::npos) << message;

  EXPECT_FALSE(fs::exists(out)) << "a refused average writes nothing";
  expect_error([&] { average_checkpoints({}, out); }, codes::kInvalidArgument);
  expect_error([&] { average_checkpoints({inputs[0], dir.file("absent.pt")}, out); }, codes::kCheckpointNotFound);
}

}  // namespace
}  // namespace asr
