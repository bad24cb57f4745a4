#pragma once
// Trainer::State, shared by the files that implement the Trainer (trainer.cpp: steps; trainer_checkpoint.cpp:
// snapshot and load). Not part of the core's interface.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

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

  int64_t updates() const { return global_step / config.grad_accumulation; }
  bool mid_accumulation() const { return global_step % config.grad_accumulation != 0; }
  torch::optim::AdamWOptions& group_options() {
    return static_cast<torch::optim::AdamWOptions&>(optimizer->param_groups()[0].options());
  }
};

// "[2, 3]": a tensor's shape for error messages.
std::string shape_string(const torch::Tensor& t);

}  // namespace asr
