#pragma once
// Trainer::State, shared by the files that implement the Trainer (trainer.cpp: steps; trainer_checkpoint.cpp:
// snapshot and load; trainer_world.cpp: the data-parallel mode). Not part of the core's interface.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "asr/collectives.h"
#include "asr/ema.h"
#include "asr/multi_tensor_adamw.h"
#include "asr/precision.h"
#include "asr/trainer.h"

namespace asr {

struct Trainer::State {
  ModelConfig model_config;
  TrainConfig config;
  torch::Device device{torch::kCPU};
  ConformerCTC model{nullptr};
  std::vector<std::string> names;  // trainable parameters, in optimizer order
  std::vector<torch::Tensor> params;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  int64_t global_step = 0;  // batches trained
  Precision precision = Precision::kFp32;
  std::shared_ptr<Collectives> world;               // set by attach_world
  std::unique_ptr<GradientSummer> gradient_summer;  // its hooks on `params`
  ModelEma ema;                                     // of `params`, updated after each optimizer update

  int64_t updates() const { return global_step / config.grad_accumulation; }
  bool mid_accumulation() const { return global_step % config.grad_accumulation != 0; }
  torch::optim::AdamWOptions& group_options() {
    return static_cast<torch::optim::AdamWOptions&>(optimizer->param_groups()[0].options());
  }

  // The training forward of a batch: SpecAugment (when enabled), then the model under autocast.
  std::pair<torch::Tensor, torch::Tensor> train_forward(const Batch& batch);
  // The end of an accumulation: clip to grad_clip, step (unless the norm is not finite), zero the gradients.
  // Sets r.grad_norm, r.updated, and r.finite = false for a skipped update.
  void update(StepResult& r);
  // The local part of evaluate: per batch the loss sum, hypotheses (greedy, or a beam of `beam_width` > 0)
  // and references appended to `out`.
  double evaluate_into(const std::vector<Batch>& batches, int64_t beam_width, EvalResult& out);
};

// Shared checks and pieces of the steps (trainer.cpp).
void check_batch(const Batch& batch, const ModelConfig& mc);
void check_targets(const Batch& batch);
torch::Tensor ctc(const torch::Tensor& log_probs, const torch::Tensor& out_lengths, const Batch& batch,
                  torch::Device device, at::Reduction::Reduction reduction);

// "[2, 3]": a tensor's shape for error messages.
std::string shape_string(const torch::Tensor& t);

}  // namespace asr
