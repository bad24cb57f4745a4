#pragma once
// What the data-parallel Trainer tests' workers (trainer_world_workers.cpp) and their world-1 references
// (test_trainer_world.cpp) share: feature stores, plans, configs, and a trainer's state as a tensor list.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "asr/dataset.h"
#include "asr/trainer.h"
#include "data_test_util.h"
#include "test_model_helpers.h"

namespace asr_test {

inline const std::vector<std::string>& world_texts() {
  static const std::vector<std::string> texts{"a cat", "the dog ran", "on it", "we go far", "yes", "big red box"};
  return texts;
}

inline std::vector<std::string> world_ids() {
  std::vector<std::string> ids;
  for (size_t i = 0; i < world_texts().size(); ++i) ids.push_back("utt" + std::to_string(i));
  return ids;
}

// Every utterance the same audio (so the same features and length) under a different transcript: BatchNorm's
// batch statistics are then the same for any share of a batch, which makes world 2 x B/2 equal world 1 x B
// exactly (up to float summation order); the different transcripts keep the loss normalisation visible.
inline std::shared_ptr<asr::FeatureStore> same_audio_store() {
  const auto audio = babble(1.2, 16000, 5);
  return asr::FeatureStore::from_audio(world_ids(), std::vector<std::vector<float>>(world_texts().size(), audio),
                                       world_texts());
}

// Different audio (and lengths) per utterance: each rank's BatchNorm statistics differ.
inline std::shared_ptr<asr::FeatureStore> varied_store() {
  std::vector<std::vector<float>> audio;
  for (size_t i = 0; i < world_texts().size(); ++i) audio.push_back(babble(0.9 + 0.1 * i, 16000, 10 + i));
  return asr::FeatureStore::from_audio(world_ids(), audio, world_texts());
}

// Even (4), uneven (5), one utterance (rank 0's share empty), and two more.
inline std::vector<std::vector<int64_t>> five_step_plan() {
  return {{0, 1, 2, 3}, {0, 1, 2, 3, 4}, {5}, {1, 2, 3, 4, 5}, {0, 2, 4}};
}

// No dropout, no SpecAugment, no warm-up: nothing random in a step.
inline asr::TrainConfig quiet_train(uint64_t seed) {
  auto t = asr::test::fixed_batch_train();
  t.seed = seed;
  return t;
}

// Parameters, buffers, the moving average and its update count (when the trainer keeps one), AdamW exp_avg
// and exp_avg_sq (zeros where a parameter has none yet) and the global step, read from a snapshot (the
// trainer keeps its optimizer to itself).
inline std::vector<torch::Tensor> trainer_state(asr::Trainer& trainer) {
  const auto root = trainer.snapshot({}).dict.toGenericDict();
  std::vector<torch::Tensor> out;
  for (const auto& item : trainer.model()->named_parameters()) out.push_back(item.value().detach().clone());
  for (const auto& item : trainer.model()->named_buffers()) out.push_back(item.value().detach().clone());
  if (const auto ema = root.find("ema_state_dict"); ema != root.end()) {
    const auto averaged = ema->value().toGenericDict();
    for (const auto& item : trainer.model()->named_parameters()) out.push_back(averaged.at(item.key()).toTensor());
    out.push_back(torch::tensor({root.at("ema_updates").toInt()}, torch::kLong));
  }
  const auto states = root.at("optimizer").toGenericDict().at("state").toGenericDict();
  const auto params = trainer.model()->parameters();
  for (const char* key : {"exp_avg", "exp_avg_sq"}) {
    for (size_t i = 0; i < params.size(); ++i) {
      const auto it = states.find(static_cast<int64_t>(i));
      out.push_back(it == states.end() ? torch::zeros_like(params[i])
                                       : it->value().toGenericDict().at(key).toTensor().clone());
    }
  }
  out.push_back(torch::tensor({trainer.global_step()}, torch::kLong));
  return out;
}

inline torch::Tensor losses_of(const std::vector<asr::StepResult>& steps) {
  std::vector<double> losses;
  for (const auto& s : steps) losses.push_back(s.loss);
  return torch::tensor(losses, torch::kDouble);
}

inline torch::Tensor grad_norms_of(const std::vector<asr::StepResult>& steps) {
  std::vector<double> norms;
  for (const auto& s : steps) norms.push_back(s.grad_norm);
  return torch::tensor(norms, torch::kDouble);
}

inline std::string world_file(const std::string& dir, const std::string& name, int rank) {
  return dir + "/" + name + "-rank" + std::to_string(rank) + ".pt";
}

inline void save_tensors(const std::vector<torch::Tensor>& tensors, const std::string& path) {
  torch::save(tensors, path);
}

inline std::vector<torch::Tensor> load_tensors(const std::string& path) {
  std::vector<torch::Tensor> tensors;
  torch::load(tensors, path);
  return tensors;
}

}  // namespace asr_test
