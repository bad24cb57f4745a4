#include "asr/model.h"

#include <ATen/autocast_mode.h>

#include <cmath>
#include <sstream>

#include "asr/dropout.h"
#include "asr/errors.h"
#include "asr/linear.h"
#include "asr/precision.h"
#include "asr/subsampling_conv.h"

namespace asr {

namespace F = torch::nn::functional;

namespace {

// A preset's size; the other fields keep their defaults.
ModelConfig sized(int64_t d_model, int64_t num_layers, int64_t num_heads, int64_t ffn_dim) {
  ModelConfig c;
  c.d_model = d_model, c.num_layers = num_layers, c.num_heads = num_heads, c.ffn_dim = ffn_dim;
  return c;
}

template <typename T>
std::string text_of(T value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

}  // namespace

const std::vector<ModelPreset>& model_presets() {
  // xs is the 2.5M-parameter model of the benchmark; s/m/l follow the Conformer paper's S/M/L.
  //                                               d_model, num_layers, num_heads, ffn_dim
  static const std::vector<ModelPreset> presets = {{"xs", sized(144, 4, 4, 576)},
                                                   {"s", sized(144, 16, 4, 576)},
                                                   {"m", sized(256, 16, 4, 1024)},
                                                   {"l", sized(512, 17, 8, 2048)}};
  return presets;
}

ModelConfig model_preset(const std::string& name) {
  std::string known;
  for (const auto& preset : model_presets()) {
    if (preset.name == name) return preset.config;
    known += (known.empty() ? "" : ", ") + preset.name;
  }
  throw Error(codes::kInvalidArgument, "unknown model preset '" + name + "'; known presets: " + known);
}

std::vector<ModelConfigProblem> model_config_problems(const ModelConfig& c) {
  std::vector<ModelConfigProblem> problems;
  // "must be <rule> (got <value>)", then why where the rule is not plain.
  auto check = [&](bool holds, const char* field, const std::string& rule, auto value, const char* why = nullptr) {
    if (holds) return;
    problems.push_back(
        {field, "must be " + rule + " (got " + text_of(value) + ")" + (why ? std::string(": ") + why : "")});
  };
  check(c.n_mels >= 7, "n_mels", ">= 7", c.n_mels, "the front end's two stride-2 3x3 convolutions need 7 mel bins");
  check(c.d_model > 0, "d_model", "> 0", c.d_model);
  check(c.d_model <= 0 || c.num_heads <= 0 || c.d_model % c.num_heads == 0, "d_model",
        "a multiple of num_heads, " + text_of(c.num_heads), c.d_model, "each head takes d_model / num_heads");
  check(c.num_layers >= 0, "num_layers", ">= 0", c.num_layers);
  check(c.num_heads > 0, "num_heads", "> 0", c.num_heads);
  check(c.ffn_dim > 0, "ffn_dim", "> 0", c.ffn_dim);
  check(c.conv_kernel > 0 && c.conv_kernel % 2 == 1, "conv_kernel", "odd and >= 1", c.conv_kernel,
        "only an odd kernel keeps the length with 'same' padding");
  check(c.vocab_size >= 2, "vocab_size", ">= 2", c.vocab_size, "the blank and one symbol at least");
  check(c.dropout >= 0.0 && c.dropout < 1.0, "dropout", ">= 0 and < 1", c.dropout);
  return problems;
}

void validate_model_config(const ModelConfig& c) {
  const auto problems = model_config_problems(c);
  if (!problems.empty()) {
    const auto& first = problems.front();
    throw Error(codes::kInvalidArgument, "invalid model config: " + first.field + " " + first.message);
  }
}

int64_t parameter_count(const ModelConfig& c) {
  const int64_t d = c.d_model, h = c.ffn_dim;
  const int64_t layer_norm = 2 * d;
  const int64_t subsampling = (9 * d + d) + (9 * d * d + d) + (d * subsampled_length(c.n_mels) * d + d);
  const int64_t feed_forward = layer_norm + (d * h + h) + (h * d + d);
  const int64_t attention = layer_norm + (3 * d * d + 3 * d) + (d * d + d);
  const int64_t convolution = layer_norm + (2 * d * d + 2 * d) + (d * c.conv_kernel + d) + 2 * d + (d * d + d);
  const int64_t layer = 2 * feed_forward + attention + convolution + layer_norm;
  return subsampling + c.num_layers * layer + (d * c.vocab_size + c.vocab_size);
}

torch::Tensor subsampled_lengths(const torch::Tensor& frames) {
  // Floor division of non-negative values; lengths under 3 frames give 0 (clamped, never negative).
  return ((frames - 1).div(2, "floor") - 1).div(2, "floor").clamp_min(0);
}

// ---- subsampling ----------------------------------------------------------------------------------------

Conv2dSubsamplingImpl::Conv2dSubsamplingImpl(int64_t n_mels, int64_t d_model) {
  conv1_ = torch::nn::Conv2d(torch::nn::Conv2dOptions(1, d_model, 3).stride(2));
  conv2_ = torch::nn::Conv2d(torch::nn::Conv2dOptions(d_model, d_model, 3).stride(2));
  // Registered as a Sequential so the names read subsampling.conv.{0,2}.* like the Python reference.
  conv_ = register_module("conv", torch::nn::Sequential(conv1_, torch::nn::ReLU(), conv2_, torch::nn::ReLU()));
  out_ = register_module("out", torch::nn::Linear(d_model * subsampled_length(n_mels), d_model));
}

torch::Tensor Conv2dSubsamplingImpl::forward(const torch::Tensor& features) {
  if (features.is_cpu() && !features.requires_grad() && features.size(1) >= 7) {
    const bool bf16 = autocast_enabled(c10::DeviceType::CPU) && autocast_dtype(c10::DeviceType::CPU) == at::kBFloat16;
    auto x = subsampling_convolutions_cpu(features, conv1_->weight, conv1_->bias, conv2_->weight, conv2_->bias,
                                          bf16 ? torch::kBFloat16 : torch::kFloat);  // (B, T', F', d)
    const auto b = x.size(0), t = x.size(1), f = x.size(2), d = x.size(3);
    // out_ takes each frame as (d, F'), like the reference's flattened NCHW: permute its weight's columns to
    // (F', d), a small copy, rather than the activation.
    auto weight = out_->weight.view({-1, d, f}).transpose(1, 2).reshape({-1, f * d});
    return linear(x.reshape({b, t, f * d}), weight, out_->bias);
  }
  // Plain convolutions on CUDA, and on CPU where the features need a gradient or are too short (which
  // Conv2d reports). fp32 on CPU: see CpuAutocastOff (precision.h).
  CpuAutocastOff fp32_on_cpu;
  auto x = conv1_->forward(features.unsqueeze(1)).relu_();  // (B, d, T/2, F/2)
  x = conv2_->forward(x).relu_();                           // (B, d, T', F')
  const auto b = x.size(0), d = x.size(1), t = x.size(2), f = x.size(3);
  return linear(x.transpose(1, 2).reshape({b, t, d * f}), out_->weight, out_->bias);
}

// ---- Conformer blocks, named as torchaudio names them -----------------------------------------------------
// Linear layers run through asr::linear (linear.h: oneDNN's sgemm in fp32 on CPU, else at::linear's one addmm
// for contiguous 3-D input) rather than the C++ frontend's functional::linear / Linear::forward, which do a
// matmul and a separate bias add.

namespace {

// _FeedForwardModule: LayerNorm, Linear, SiLU, Dropout, Linear, Dropout.
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t d, int64_t hidden, double dropout)
      : norm_(torch::nn::LayerNormOptions({d})), up_(d, hidden), drop1_(dropout), down_(hidden, d), drop2_(dropout) {
    register_module("sequential", torch::nn::Sequential(norm_, up_, torch::nn::SiLU(), drop1_, down_, drop2_));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return drop2_(linear(drop1_(F::silu(linear(norm_(x), up_->weight, up_->bias))), down_->weight, down_->bias));
  }

 private:
  torch::nn::LayerNorm norm_;
  torch::nn::Linear up_;
  HashedDropout drop1_;
  torch::nn::Linear down_;
  HashedDropout drop2_;
};
TORCH_MODULE(FeedForward);

// torch.nn.MultiheadAttention's parameters (in_proj_weight, in_proj_bias, out_proj) for self-attention on
// batch-first input: one fused QKV projection, a -inf key bias for padding, no equality checks between
// query/key/value (the LibTorch module compares them on every call).
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t d, int64_t heads, double dropout) : heads_(heads), dropout_(dropout) {
    in_proj_weight_ = register_parameter("in_proj_weight", torch::empty({3 * d, d}));
    in_proj_bias_ = register_parameter("in_proj_bias", torch::zeros({3 * d}));
    out_proj_ = register_module("out_proj", torch::nn::Linear(d, d));
    torch::NoGradGuard no_grad;
    torch::nn::init::xavier_uniform_(in_proj_weight_);  // as torch.nn.MultiheadAttention._reset_parameters
    out_proj_->bias.zero_();
  }
  // x (B, T, D); key_bias (B*H, 1, T) with 0 / -inf, or undefined when nothing is padded.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_bias) {
    const auto b = x.size(0), t = x.size(1), d = x.size(2), hd = d / heads_;
    auto qkv = linear(x, in_proj_weight_, in_proj_bias_).view({b, t, 3, heads_, hd}).permute({2, 0, 3, 1, 4});
    auto q = (qkv[0] * (1.0 / std::sqrt(static_cast<double>(hd)))).reshape({b * heads_, t, hd});
    auto k = qkv[1].reshape({b * heads_, t, hd});
    auto v = qkv[2].reshape({b * heads_, t, hd});
    auto scores =
        key_bias.defined() ? torch::baddbmm(key_bias, q, k.transpose(1, 2)) : torch::bmm(q, k.transpose(1, 2));
    auto attn = torch::softmax(scores, -1);
    attn = hashed_dropout(attn, dropout_, is_training());
    auto ctx = torch::bmm(attn, v).view({b, heads_, t, hd}).permute({0, 2, 1, 3}).reshape({b, t, d});
    return linear(ctx, out_proj_->weight, out_proj_->bias);
  }

 private:
  int64_t heads_;
  double dropout_;
  torch::Tensor in_proj_weight_, in_proj_bias_;
  torch::nn::Linear out_proj_{nullptr};
};
TORCH_MODULE(SelfAttention);

// _ConvolutionModule: LayerNorm, then pointwise Conv1d(d -> 2d), GLU, depthwise Conv1d, BatchNorm1d, SiLU,
// pointwise Conv1d(d -> d), Dropout. The pointwise convolutions run as linear layers on (B, T, D) with the
// same (out, in, 1) weights, which saves two transposes; padded frames are zeroed before the depthwise
// convolution so they never leak into valid ones.
class ConvolutionModuleImpl : public torch::nn::Module {
 public:
  ConvolutionModuleImpl(int64_t d, int64_t kernel, double dropout)
      : norm_(torch::nn::LayerNormOptions({d})),
        pointwise1_(torch::nn::Conv1dOptions(d, 2 * d, 1)),
        depthwise_(torch::nn::Conv1dOptions(d, d, kernel).padding((kernel - 1) / 2).groups(d)),
        batch_norm_(d),
        pointwise2_(torch::nn::Conv1dOptions(d, d, 1)),
        drop_(dropout),
        pad_((kernel - 1) / 2),
        groups_(d) {
    register_module("layer_norm", norm_);
    register_module("sequential",
                    torch::nn::Sequential(pointwise1_, torch::nn::GLU(torch::nn::GLUOptions(1)), depthwise_,
                                          batch_norm_, torch::nn::SiLU(), pointwise2_, drop_));
  }
  // x (B, T, D); pad (B, T, 1) bool, true on padded frames, or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& pad) {
    auto y = F::glu(linear(norm_(x), pointwise1_->weight.squeeze(-1), pointwise1_->bias), -1);
    if (pad.defined()) y = y.masked_fill(pad, 0.0);
    // The depthwise convolution runs as a (1 x K) conv2d over (B, D, 1, T): LibTorch 1.13's CPU conv1d
    // takes a path that is several times slower for grouped kernels (measured: bench/reference/README.md).
    auto z = F::conv2d(y.transpose(1, 2).unsqueeze(2), depthwise_->weight.unsqueeze(2),
                       F::Conv2dFuncOptions().bias(depthwise_->bias).padding({0, pad_}).groups(groups_));
    y = F::silu(batch_norm_(z.squeeze(2))).transpose(1, 2).contiguous();
    return drop_(linear(y, pointwise2_->weight.squeeze(-1), pointwise2_->bias));
  }

 private:
  torch::nn::LayerNorm norm_;
  torch::nn::Conv1d pointwise1_;
  torch::nn::Conv1d depthwise_;
  torch::nn::BatchNorm1d batch_norm_;
  torch::nn::Conv1d pointwise2_;
  HashedDropout drop_;
  int64_t pad_, groups_;
};
TORCH_MODULE(ConvolutionModule);

// ConformerLayer: x + FFN/2, + MHSA, + Conv, + FFN/2, LayerNorm (Gulati et al. 2020, fig. 1).
class ConformerLayerImpl : public torch::nn::Module {
 public:
  explicit ConformerLayerImpl(const ModelConfig& c)
      : ffn1_(c.d_model, c.ffn_dim, c.dropout),
        attn_norm_(torch::nn::LayerNormOptions({c.d_model})),
        attn_(c.d_model, c.num_heads, c.dropout),
        attn_drop_(c.dropout),
        conv_(c.d_model, c.conv_kernel, c.dropout),
        ffn2_(c.d_model, c.ffn_dim, c.dropout),
        final_norm_(torch::nn::LayerNormOptions({c.d_model})) {
    register_module("ffn1", ffn1_);
    register_module("self_attn_layer_norm", attn_norm_);
    register_module("self_attn", attn_);
    register_module("self_attn_dropout", attn_drop_);
    register_module("conv_module", conv_);
    register_module("ffn2", ffn2_);
    register_module("final_layer_norm", final_norm_);
  }
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& pad, const torch::Tensor& key_bias) {
    x = ffn1_(x).mul_(0.5).add_(x);
    x = attn_drop_(attn_(attn_norm_(x), key_bias)).add_(x);
    x = conv_(x, pad).add_(x);
    x = ffn2_(x).mul_(0.5).add_(x);
    return final_norm_(x);
  }

 private:
  FeedForward ffn1_;
  torch::nn::LayerNorm attn_norm_;
  SelfAttention attn_;
  HashedDropout attn_drop_;
  ConvolutionModule conv_;
  FeedForward ffn2_;
  torch::nn::LayerNorm final_norm_;
};
TORCH_MODULE(ConformerLayer);

}  // namespace

ConformerEncoderImpl::ConformerEncoderImpl(const ModelConfig& c) : heads_(c.num_heads) {
  layers_ = register_module("conformer_layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) layers_->push_back(ConformerLayer(c));
}

torch::Tensor ConformerEncoderImpl::forward(const torch::Tensor& input, const torch::Tensor& lengths) {
  const auto b = input.size(0), t = input.size(1);
  torch::Tensor pad, key_bias;
  auto valid = lengths.to(input.device(), torch::kLong);
  // One comparison on the host decides whether masking is needed at all (unpadded batches skip it).
  if (t > 0 && valid.min().item<int64_t>() < t) {
    // A row with no valid frame keeps its first key so the softmax stays finite (its loss is zeroed anyway).
    auto keys = valid.clamp_min(1);
    pad = torch::arange(t, valid.options()).unsqueeze(0).ge(valid.unsqueeze(1)).unsqueeze(-1);  // (B, T, 1)
    auto key_pad = torch::arange(t, keys.options()).unsqueeze(0).ge(keys.unsqueeze(1));         // (B, T)
    key_bias = torch::zeros({b, 1, 1, t}, input.options())
                   .masked_fill_(key_pad.view({b, 1, 1, t}), -INFINITY)
                   .expand({b, heads_, 1, t})
                   .reshape({b * heads_, 1, t});
  }
  auto x = input;
  for (const auto& layer : *layers_) {
    x = layer->as<ConformerLayerImpl>()->forward(x, pad, key_bias);
  }
  return x;
}

ConformerCTCImpl::ConformerCTCImpl(const ModelConfig& config) : config_(config) {
  validate_model_config(config_);
  subsampling_ = register_module("subsampling", Conv2dSubsampling(config_.n_mels, config_.d_model));
  encoder_ = register_module("encoder", ConformerEncoder(config_));
  ctc_head_ = register_module("ctc_head", torch::nn::Linear(config_.d_model, config_.vocab_size));
}

std::pair<torch::Tensor, torch::Tensor> ConformerCTCImpl::forward(const torch::Tensor& features,
                                                                  const torch::Tensor& lengths) {
  const auto device = ctc_head_->weight.device();
  auto x = subsampling_(features.to(device, torch::kFloat, /*non_blocking=*/true));
  auto out_lengths = subsampled_lengths(lengths.to(device, torch::kLong)).clamp_max(x.size(1));
  x = encoder_(x, out_lengths);
  return {torch::log_softmax(linear(x, ctc_head_->weight, ctc_head_->bias), -1), out_lengths};
}

}  // namespace asr
