#pragma once
// Shared fixtures of the model-side tests: tiny configs and batches drawn from their own generator, so
// building a batch never moves the global torch generator that training draws from.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "asr/batch.h"
#include "asr/model.h"
#include "asr/trainer.h"
#include "asr/vocab.h"

namespace asr::test {

inline ModelConfig tiny_model() {
  ModelConfig c;
  c.d_model = 32;
  c.num_layers = 2;
  c.num_heads = 4;
  c.ffn_dim = 64;
  c.conv_kernel = 7;
  return c;
}

inline TrainConfig tiny_train(uint64_t seed = 7) {
  TrainConfig t;
  t.learning_rate = 2e-3;
  t.warmup_steps = 5;
  t.seed = seed;
  t.threads = 1;
  t.device = "cpu";
  return t;
}

// Nothing random in the step and no warm-up (no SpecAugment, no dropout): for tests that train on one
// fixed batch and expect it to be learnt.
inline TrainConfig fixed_batch_train() {
  auto t = tiny_train();
  t.spec_augment.enabled = false;
  t.warmup_steps = 0;
  return t;
}
inline ModelConfig fixed_batch_model() {
  auto m = tiny_model();
  m.dropout = 0.0;
  return m;
}

// Random features, frame counts given, random transcripts of `chars` characters drawn from a-z and space.
inline Batch random_batch(uint64_t seed, const std::vector<int64_t>& frames, int64_t chars, int64_t mels = 80) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto b = static_cast<int64_t>(frames.size());
  const int64_t t = *std::max_element(frames.begin(), frames.end());
  Batch batch;
  batch.features = torch::zeros({b, t, mels});
  batch.feature_lengths = torch::tensor(frames, torch::kLong);
  batch.targets = torch::zeros({b, chars}, torch::kLong);
  batch.target_lengths = torch::full({b}, chars, torch::kLong);
  for (int64_t i = 0; i < b; ++i) {
    batch.features[i].narrow(0, 0, frames[i]).copy_(at::randn({frames[i], mels}, gen));
    auto ids = at::randint(1, kVocabSize, {chars}, gen, torch::TensorOptions().dtype(torch::kLong));
    ids.masked_fill_(ids.eq(2), 1);  // no apostrophes: keeps the text word-like
    batch.targets[i].copy_(ids);
    const auto* p = ids.data_ptr<int64_t>();
    batch.texts.push_back(decode_tokens(std::vector<int64_t>(p, p + chars)));
    batch.ids.push_back("utt" + std::to_string(i));
  }
  return batch;
}

}  // namespace asr::test
