// The Trainer's construction and its steps: train_step, evaluate, transcribe. Snapshot and load are in
// trainer_checkpoint.cpp, process settings in runtime.cpp, the masks in spec_augment.cpp.
#include "asr/trainer.h"

#include <chrono>
#include <cmath>
#include <sstream>

#include "asr/beam_search.h"
#include "asr/errors.h"
#include "asr/metrics.h"
#include "asr/vocab.h"
#include "trainer_state.h"

namespace asr {

double noam_lr(double peak, int64_t warmup_steps, int64_t update) {
  if (warmup_steps <= 0) return peak;
  const double u = static_cast<double>(std::max<int64_t>(update, 1));
  const double w = static_cast<double>(warmup_steps);
  return peak * std::min(u / w, std::sqrt(w / u));
}

void validate_train_config(const TrainConfig& c) {
  auto fail = [](const std::string& what) { throw Error(codes::kInvalidArgument, "invalid training config: " + what); };
  if (!(c.learning_rate > 0)) fail("learning_rate must be > 0, got " + std::to_string(c.learning_rate));
  if (c.warmup_steps < 0) fail("warmup_steps must be >= 0, got " + std::to_string(c.warmup_steps));
  if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1)) fail("betas must be in [0, 1)");
  if (!(c.eps > 0)) fail("eps must be > 0");
  if (!(c.weight_decay >= 0)) fail("weight_decay must be >= 0");
  parse_precision(c.precision);
  validate_ema_decay(c.ema_decay);
  if (c.grad_accumulation < 1) fail("grad_accumulation must be >= 1, got " + std::to_string(c.grad_accumulation));
  const auto& s = c.spec_augment;
  if (s.freq_masks < 0 || s.time_masks < 0 || s.freq_width < 0 ||
      !(s.time_width_fraction >= 0 && s.time_width_fraction <= 1))
    fail("spec_augment counts and widths must be >= 0 and time_width_fraction in [0, 1]");
}

torch::Device check_trainer_config(const ModelConfig& model, const TrainConfig& train) {
  validate_model_config(model);
  validate_train_config(train);
  return resolve_device(train.device);
}

std::string shape_string(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

torch::Tensor ctc(const torch::Tensor& log_probs, const torch::Tensor& out_lengths, const Batch& batch,
                  torch::Device device, at::Reduction::Reduction reduction) {
  // (B, T, V) -> (T, B, V) as a view; lengths go to the host as the CTC kernels want them there.
  return torch::ctc_loss(log_probs.transpose(0, 1), batch.targets.to(device, torch::kLong, true),
                         out_lengths.to(torch::kCPU), batch.target_lengths.to(torch::kCPU, torch::kLong), kBlank,
                         reduction, /*zero_infinity=*/true);
}

void check_batch(const Batch& batch, const ModelConfig& mc) {
  if (!batch.features.defined() || batch.features.dim() != 3 || batch.features.size(2) != mc.n_mels) {
    throw Error(codes::kInvalidArgument, "batch features must be (B, T, " + std::to_string(mc.n_mels) + "), got " +
                                             (batch.features.defined() ? shape_string(batch.features) : "none"));
  }
  const auto b = batch.features.size(0);
  if (!batch.feature_lengths.defined() || batch.feature_lengths.numel() != b) {
    throw Error(codes::kInvalidArgument,
                "batch feature_lengths must hold one length per row (" + std::to_string(b) + ")");
  }
}

void check_targets(const Batch& batch) {
  const auto b = batch.features.size(0);
  if (!batch.targets.defined() || batch.targets.dim() != 2 || batch.targets.size(0) != b ||
      !batch.target_lengths.defined() || batch.target_lengths.numel() != b) {
    throw Error(codes::kInvalidArgument,
                "batch targets must be (B, L) with B = " + std::to_string(b) + " and target_lengths (B)");
  }
}

namespace {

std::vector<std::string> references_of(const Batch& batch) {
  if (batch.texts.size() == static_cast<size_t>(batch.features.size(0))) return batch.texts;
  std::vector<std::string> refs;
  const auto targets = batch.targets.to(torch::kCPU, torch::kLong).contiguous();
  const auto lens = batch.target_lengths.to(torch::kCPU, torch::kLong).contiguous();
  for (int64_t b = 0; b < targets.size(0); ++b) {
    const auto* row = targets.data_ptr<int64_t>() + b * targets.size(1);
    refs.push_back(decode_tokens(std::vector<int64_t>(row, row + lens.data_ptr<int64_t>()[b])));
  }
  return refs;
}

}  // namespace

Trainer::Trainer(const ModelConfig& model, const TrainConfig& train) : state_(std::make_unique<State>()) {
  auto& s = *state_;
  s.device = check_trainer_config(model, train);
  s.model_config = model;
  s.config = train;
  s.precision = parse_precision(train.precision);
  // Process-wide; LibTorch re-applies it lazily on every thread that runs ops (an addon worker included).
  set_threads(train.threads);
  keep_freed_memory();
  // Every random draw of the run (initialisation, dropout, SpecAugment) comes from these generators, whose
  // states the checkpoint saves; that is what makes a resumed run replay the uninterrupted one.
  torch::manual_seed(train.seed);
  s.model = ConformerCTC(model);
  s.model->to(s.device);
  s.model->train();
  for (auto& item : s.model->named_parameters()) {
    s.names.push_back(item.key());
    s.params.push_back(item.value());
  }
  torch::optim::AdamWOptions options(noam_lr(train.learning_rate, train.warmup_steps, 1));
  options.betas({train.beta1, train.beta2}).eps(train.eps).weight_decay(train.weight_decay);
  s.optimizer = std::make_unique<torch::optim::AdamW>(s.params, options);
  s.ema = ModelEma(train.ema_decay);
  s.ema.reset(s.params);
}

Trainer::~Trainer() = default;

std::pair<torch::Tensor, torch::Tensor> Trainer::State::train_forward(const Batch& batch) {
  model->train();
  auto features = batch.features.to(device, torch::kFloat, /*non_blocking=*/true);
  const auto& sa = config.spec_augment;
  if (sa.enabled && (sa.freq_masks > 0 || sa.time_masks > 0)) {
    auto mask = spec_augment_mask(sa, batch.feature_lengths, features.size(1), features.size(2));
    features = features.masked_fill(mask.to(device, true), 0.0);
  }
  AutocastScope autocast(precision, device.type());
  return model->forward(features, batch.feature_lengths);
}

void Trainer::State::update(StepResult& r) {
  const double max_norm = config.grad_clip > 0 ? config.grad_clip : std::numeric_limits<double>::infinity();
  // The update's one host synchronisation: the norm is reported per step and decides whether to step.
  r.grad_norm = clip_grad_norm(params, max_norm).item<double>();
  if (std::isfinite(r.grad_norm)) {
    group_options().lr(r.lr);
    multi_tensor_adamw_step(*optimizer);
    r.updated = true;
  } else {
    r.finite = false;  // skip the update rather than write NaN into the weights
  }
  optimizer->zero_grad();
}

StepResult Trainer::train_step(const Batch& batch) {
  auto& s = *state_;
  if (s.world) {
    const auto [first, last] = shard_range(batch_rows(batch), s.world->rank(), s.world->size());
    return train_shard(slice_rows(batch, first, last), batch_rows(batch));
  }
  check_batch(batch, s.model_config);
  check_targets(batch);
  const auto started = std::chrono::steady_clock::now();
  auto [log_probs, out_lengths] = s.train_forward(batch);
  auto loss = ctc(log_probs, out_lengths, batch, s.device, at::Reduction::Mean);

  StepResult r;
  r.loss = loss.item<double>();
  r.finite = std::isfinite(r.loss);
  r.utterances = batch.features.size(0);
  r.frames = batch.feature_lengths.sum().item<int64_t>();
  const int64_t accumulation = s.config.grad_accumulation;
  if (r.finite) {
    (accumulation > 1 ? loss / static_cast<double>(accumulation) : loss).backward();
  }
  s.global_step += 1;
  const int64_t update = (s.global_step + accumulation - 1) / accumulation;  // the update this batch feeds
  r.lr = noam_lr(s.config.learning_rate, s.config.warmup_steps, update);
  if (!s.mid_accumulation()) s.update(r);
  if (r.updated) s.ema.update(s.params);
  r.global_step = s.global_step;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return r;
}

double Trainer::State::evaluate_into(const std::vector<Batch>& batches, int64_t beam_width, EvalResult& result) {
  torch::NoGradGuard no_grad;
  model->eval();
  double loss_sum = 0;
  for (const auto& batch : batches) {
    if (world && batch_rows(batch) == 0) continue;  // an empty share of a global batch
    check_batch(batch, model_config);
    check_targets(batch);
    AutocastScope autocast(precision, device.type());
    auto [log_probs, out_lengths] = model->forward(batch.features, batch.feature_lengths);
    // Per-utterance loss / target length, the quantity the training loss averages.
    auto per_utt = ctc(log_probs, out_lengths, batch, device, at::Reduction::None);
    auto target_lengths = batch.target_lengths.to(device, torch::kDouble).clamp_min(1);
    loss_sum += (per_utt.to(torch::kDouble) / target_lengths).sum().item<double>();
    const auto decoded = beam_width > 0 ? ctc_beam_decode(log_probs, out_lengths, beam_width)
                                        : ctc_greedy_decode(log_probs, out_lengths);
    const auto refs = references_of(batch);
    for (size_t i = 0; i < decoded.size(); ++i) {
      result.hypotheses.push_back(decode_tokens(decoded[i]));
      result.references.push_back(refs[i]);
      result.ids.push_back(i < batch.ids.size() ? batch.ids[i] : std::to_string(result.utterances));
      result.utterances += 1;
    }
  }
  model->train();
  return loss_sum;
}

EvalResult Trainer::evaluate(const std::vector<Batch>& batches, const EvalOptions& options) {
  auto& s = *state_;
  if (s.world) {
    std::vector<Batch> shards;
    for (const auto& batch : batches) {
      const auto [first, last] = shard_range(batch_rows(batch), s.world->rank(), s.world->size());
      shards.push_back(slice_rows(batch, first, last));
    }
    return evaluate_shards(shards, options);
  }
  EvalResult result;
  double loss_sum = 0;
  with_weights(options.weights, [&] { loss_sum = s.evaluate_into(batches, options.beam_width, result); });
  result.loss = result.utterances > 0 ? loss_sum / static_cast<double>(result.utterances) : 0.0;
  result.cer = character_errors(result.references, result.hypotheses).rate();
  result.wer = word_errors(result.references, result.hypotheses).rate();
  return result;
}

std::vector<std::string> Trainer::transcribe(const Batch& batch) {
  auto& s = *state_;
  check_batch(batch, s.model_config);
  torch::NoGradGuard no_grad;
  s.model->eval();
  AutocastScope autocast(s.precision, s.device.type());
  auto [log_probs, out_lengths] = s.model->forward(batch.features, batch.feature_lengths);
  s.model->train();
  std::vector<std::string> texts;
  for (const auto& ids : ctc_greedy_decode(log_probs, out_lengths)) texts.push_back(decode_tokens(ids));
  return texts;
}

void Trainer::with_weights(Weights weights, const std::function<void()>& work) {
  if (weights == Weights::kRaw) return work();
  state_->ema.with_weights(state_->params, work);
}
bool Trainer::has_ema_weights() const { return state_->ema.has_weights(); }

int64_t Trainer::global_step() const { return state_->global_step; }
int64_t Trainer::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : state_->params) n += p.numel();
  return n;
}
std::string Trainer::device_name() const { return state_->device.str(); }
const ModelConfig& Trainer::model_config() const { return state_->model_config; }
const TrainConfig& Trainer::train_config() const { return state_->config; }
double Trainer::current_lr() const {
  const auto& s = *state_;
  return noam_lr(s.config.learning_rate, s.config.warmup_steps, s.updates() + 1);
}
ConformerCTC& Trainer::model() { return state_->model; }

}  // namespace asr
