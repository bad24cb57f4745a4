#pragma once
// What the world-2 workers and the world-1 reference in the parent share: the tiny Conformer, its batch
// and the loss under the normalisation contract of gradient_sync.h.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "test_model_helpers.h"

namespace asr_test {

inline constexpr int64_t kGlobalBatch = 4;

// Dropout off and eval(): BatchNorm then uses its running statistics, which do not depend on how the
// batch is split (in train mode each rank would normalise by its own half's statistics).
inline asr::ConformerCTC equivalence_model() {
  torch::manual_seed(7);
  auto config = asr::test::tiny_model();
  config.dropout = 0;
  asr::ConformerCTC model(config);
  model->eval();
  return model;
}

inline asr::Batch equivalence_batch() { return asr::test::random_batch(11, {40, 33, 27, 36}, 5); }

// Per-utterance CTC / target length, summed over `rows` of the batch, over the global batch's count.
inline torch::Tensor contract_loss(asr::ConformerCTC& model, const asr::Batch& batch,
                                   const std::vector<int64_t>& rows) {
  const auto index = torch::tensor(rows, torch::kLong);
  auto [log_probs, out_lengths] =
      model->forward(batch.features.index_select(0, index), batch.feature_lengths.index_select(0, index));
  const auto target_lengths = batch.target_lengths.index_select(0, index);
  auto per_utterance = torch::ctc_loss(log_probs.transpose(0, 1), batch.targets.index_select(0, index),
                                       out_lengths.cpu(), target_lengths, asr::kBlank, at::Reduction::None,
                                       /*zero_infinity=*/true);
  return (per_utterance / target_lengths.to(torch::kFloat)).sum() / static_cast<double>(kGlobalBatch);
}

inline std::vector<torch::Tensor> gradients(asr::ConformerCTC& model) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : model->parameters()) grads.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  return grads;
}

inline std::string rank_file(const std::string& dir, const std::string& name, int rank) {
  return dir + "/" + name + "-rank" + std::to_string(rank) + ".pt";
}

// The file rank 0 of the lost-peer scenarios writes once its collective has failed; the stalled rank 1 stays
// alive until then.
inline constexpr const char* kRankZeroFailed = "rank0-failed";

}  // namespace asr_test
