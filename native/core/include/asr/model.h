#pragma once
// Conformer-CTC: Conv2d 4x subsampling -> Conformer encoder (torchaudio's block order, parameter names and
// shapes, so `encoder.*` loads into torchaudio.models.Conformer) -> linear CTC head over the vocabulary.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "asr/batch.h"
#include "asr/vocab.h"

namespace asr {

// The ModelConfig fields as (type, name, default): this one list declares the struct and is the field list
// of every conversion (the addon's JS objects, the checkpoint's model_config entry and its reader), so a
// field added here reaches all of them.
#define ASR_MODEL_CONFIG_FIELDS(X)   \
  X(int64_t, n_mels, 80)             \
  X(int64_t, d_model, 144)           \
  X(int64_t, num_layers, 4)          \
  X(int64_t, num_heads, 4)           \
  X(int64_t, ffn_dim, 576)           \
  X(int64_t, conv_kernel, 31)        \
  X(int64_t, vocab_size, kVocabSize) \
  X(double, dropout, 0.1)

struct ModelConfig {
#define ASR_DECLARE_FIELD(type, name, value) type name = value;
  ASR_MODEL_CONFIG_FIELDS(ASR_DECLARE_FIELD)
#undef ASR_DECLARE_FIELD
};

// The field names, in declaration order.
inline constexpr const char* kModelConfigFields[] = {
#define ASR_FIELD_NAME(type, name, value) #name,
    ASR_MODEL_CONFIG_FIELDS(ASR_FIELD_NAME)
#undef ASR_FIELD_NAME
};

// Calls visit(name, field) for each field in declaration order; `config` may be const.
template <typename Config, typename Visit>
void for_each_model_config_field(Config& config, Visit&& visit) {
#define ASR_VISIT_FIELD(type, name, value) visit(#name, config.name);
  ASR_MODEL_CONFIG_FIELDS(ASR_VISIT_FIELD)
#undef ASR_VISIT_FIELD
}

// A named model size. This table is the only definition of the presets: config.yaml's `preset:` names and the
// sizes they stand for reach TypeScript through the addon (modelPresets).
struct ModelPreset {
  std::string name;
  ModelConfig config;
};
// xs (d144, 4 layers, the demo size) | s (d144, 16, Conformer-S) | m (d256, 16) | l (d512, 17, 8 heads), in
// this order; the fields a preset does not size keep ModelConfig's defaults.
const std::vector<ModelPreset>& model_presets();
// The preset of that name; anything else throws asr::Error(E_INVALID_ARGUMENT) listing the known names.
ModelConfig model_preset(const std::string& name);
// The trainable parameters a ConformerCTC of this config has, counted from the shapes without building it.
int64_t parameter_count(const ModelConfig& config);

// A field that keeps a config from building a model, and what it must be: "must be ... (got ...)".
struct ModelConfigProblem {
  std::string field;
  std::string message;
};
// Every problem of `config`, in field order; empty when it builds a model. The config file's check (through
// the addon's modelConfigProblems) and the model's own (validate_model_config) are this one.
std::vector<ModelConfigProblem> model_config_problems(const ModelConfig& config);
// Throws E_INVALID_ARGUMENT with the first problem ("invalid model config: d_model must be a multiple of ...").
void validate_model_config(const ModelConfig& config);

// Two 3x3 stride-2 convolutions with ReLU over (time, mel), then Linear(d_model * mels' -> d_model).
class Conv2dSubsamplingImpl : public torch::nn::Module {
 public:
  Conv2dSubsamplingImpl(int64_t n_mels, int64_t d_model);
  // (B, T, n_mels) -> (B, subsampled_length(T), d_model)
  torch::Tensor forward(const torch::Tensor& features);

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Sequential conv_{nullptr};
  torch::nn::Linear out_{nullptr};
};
TORCH_MODULE(Conv2dSubsampling);

// torchaudio.models.Conformer, names and shapes included: `conformer_layers.{i}.ffn1.sequential.1.weight`, ...
class ConformerEncoderImpl : public torch::nn::Module {
 public:
  explicit ConformerEncoderImpl(const ModelConfig& config);
  // x (B, T, d_model), lengths (B) int64 on x's device -> (B, T, d_model). Padded frames never reach the
  // valid ones: attention masks padded keys, and the depthwise convolution sees them as zeros.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& lengths);

 private:
  int64_t heads_;
  torch::nn::ModuleList layers_{nullptr};
};
TORCH_MODULE(ConformerEncoder);

class ConformerCTCImpl : public torch::nn::Module {
 public:
  explicit ConformerCTCImpl(const ModelConfig& config);
  // features (B, T, n_mels) float32, lengths (B) int64 (any device; moved to the model's) ->
  // (log_probs (B, T', vocab) float32, output lengths (B) int64 on the model's device).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& features, const torch::Tensor& lengths);
  const ModelConfig& config() const { return config_; }

 private:
  ModelConfig config_;
  Conv2dSubsampling subsampling_{nullptr};
  ConformerEncoder encoder_{nullptr};
  torch::nn::Linear ctc_head_{nullptr};
};
TORCH_MODULE(ConformerCTC);

// Output lengths of the subsampling front end for a (B) tensor of frame counts (subsampled_length, batch.h).
torch::Tensor subsampled_lengths(const torch::Tensor& frames);

}  // namespace asr
