#include "asr/trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>

#include "asr/errors.h"
#include "asr/metrics.h"
#include "asr/precision.h"
#include "asr/vocab.h"

namespace asr {

// ---- process-level settings -------------------------------------------------------------------------------

int set_threads(int threads) {
  if (threads < 0) {
    throw Error(codes::kInvalidArgument, "threads must be >= 0 (0: all cores), got " + std::to_string(threads));
  }
  int n = threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(n);
  return n;
}

torch::Device resolve_device(const std::string& device) {
  const bool cuda = torch::cuda::is_available();
  if (device == "auto") return cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (device == "cpu") return torch::Device(torch::kCPU);
  if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
    int64_t index = 0;
    if (device.size() > 5) {
      const std::string digits = device.substr(5);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 6) {
        throw Error(codes::kInvalidArgument, "device '" + device + "' is not auto, cpu, cuda or cuda:N");
      }
      index = std::stoll(digits);
    }
    if (!cuda) {
      throw Error(codes::kCudaUnavailable, "device '" + device + "' asked for CUDA, but the linked LibTorch " +
                                               "has no CUDA or no GPU is visible; use device: cpu or auto, or " +
                                               "build against a CUDA LibTorch (LIBTORCH=...)");
    }
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    if (index >= count) {
      throw Error(codes::kCudaUnavailable, "device '" + device + "' does not exist: " + std::to_string(count) +
                                               " CUDA device(s) visible (cuda:0..cuda:" + std::to_string(count - 1) +
                                               ")");
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw Error(codes::kInvalidArgument, "device '" + device + "' is not auto, cpu, cuda or cuda:N");
}

bool keep_freed_memory() {
#if defined(__GLIBC__)
  static const bool applied = [] {
    // Someone who tuned glibc's allocator through its environment variables keeps their settings.
    if (const char* choice = std::getenv("ASR_TRAINER_MALLOC"); choice && std::string(choice) == "default") {
      return false;
    }
    for (const char* name : {"GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}) {
      if (std::getenv(name)) return false;
    }
    constexpr int kOneGiB = 1 << 30;
    return mallopt(M_MMAP_THRESHOLD, kOneGiB) == 1 && mallopt(M_TRIM_THRESHOLD, kOneGiB) == 1;
  }();
  return applied;
#else
  return false;
#endif
}

double noam_lr(double peak, int64_t warmup_steps, int64_t update) {
  if (warmup_steps <= 0) return peak;
  const double u = static_cast<double>(std::max<int64_t>(update, 1));
  const double w = static_cast<double>(warmup_steps);
  return peak * std::min(u / w, std::sqrt(w / u));
}

// ---- trainer state ----------------------------------------------------------------------------------------

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

namespace {

void validate_train_config(const TrainConfig& c) {
  auto fail = [](const std::string& what) { throw Error(codes::kInvalidArgument, "invalid training config: " + what); };
  if (!(c.learning_rate > 0)) fail("learning_rate must be > 0, got " + std::to_string(c.learning_rate));
  if (c.warmup_steps < 0) fail("warmup_steps must be >= 0, got " + std::to_string(c.warmup_steps));
  if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1)) fail("betas must be in [0, 1)");
  if (!(c.eps > 0)) fail("eps must be > 0");
  if (!(c.weight_decay >= 0)) fail("weight_decay must be >= 0");
  parse_precision(c.precision);
  if (c.grad_accumulation < 1) fail("grad_accumulation must be >= 1, got " + std::to_string(c.grad_accumulation));
  const auto& s = c.spec_augment;
  if (s.freq_masks < 0 || s.time_masks < 0 || s.freq_width < 0 ||
      !(s.time_width_fraction >= 0 && s.time_width_fraction <= 1))
    fail("spec_augment counts and widths must be >= 0 and time_width_fraction in [0, 1]");
}

std::string shape_string(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

}  // namespace

torch::Tensor spec_augment_mask(const SpecAugmentOptions& o, const torch::Tensor& lengths, int64_t t, int64_t f) {
  const int64_t b = lengths.size(0);
  const int64_t nf = o.freq_masks, nt = o.time_masks;
  auto r = torch::rand({b, 2 * (nf + nt)}, torch::kDouble);
  auto mask = torch::zeros({b, t, f}, torch::kBool);
  if (nf > 0) {
    auto width = (r.narrow(1, 0, nf) * (std::min<int64_t>(o.freq_width, f) + 1)).floor();
    auto start = (r.narrow(1, nf, nf) * (f - width + 1)).floor();
    auto bins = torch::arange(f, torch::kDouble).view({1, 1, f});
    auto band = (bins >= start.unsqueeze(-1)).logical_and(bins < (start + width).unsqueeze(-1)).any(1);  // (B, F)
    mask.logical_or_(band.unsqueeze(1));
  }
  if (nt > 0) {
    auto len = lengths.to(torch::kCPU, torch::kDouble).clamp_max(static_cast<double>(t)).unsqueeze(1);  // (B, 1)
    auto width = (r.narrow(1, 2 * nf, nt) * ((len * o.time_width_fraction).floor() + 1)).floor();
    auto start = (r.narrow(1, 2 * nf + nt, nt) * (len - width + 1).clamp_min(0)).floor();
    auto frames = torch::arange(t, torch::kDouble).view({1, 1, t});
    auto span = (frames >= start.unsqueeze(-1)).logical_and(frames < (start + width).unsqueeze(-1)).any(1);  // (B, T)
    mask.logical_or_(span.unsqueeze(-1));
  }
  return mask;
}

namespace {

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
    throw Error(codes::kInvalidArgument, "batch targets must be (B, L) with B = " + std::to_string(b) +
                                             " and target_lengths (B)");
  }
}

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
  validate_model_config(model);
  validate_train_config(train);
  s.model_config = model;
  s.config = train;
  s.device = resolve_device(train.device);
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
}

Trainer::~Trainer() = default;

StepResult Trainer::train_step(const Batch& batch) {
  auto& s = *state_;
  check_batch(batch, s.model_config);
  check_targets(batch);
  const auto started = std::chrono::steady_clock::now();
  s.model->train();
  auto features = batch.features.to(s.device, torch::kFloat, /*non_blocking=*/true);
  const auto& sa = s.config.spec_augment;
  if (sa.enabled && (sa.freq_masks > 0 || sa.time_masks > 0)) {
    auto mask = spec_augment_mask(sa, batch.feature_lengths, features.size(1), features.size(2));
    features = features.masked_fill(mask.to(s.device, true), 0.0);
  }
  torch::Tensor log_probs, out_lengths;
  {
    AutocastScope autocast(s.precision, s.device.type());
    std::tie(log_probs, out_lengths) = s.model->forward(features, batch.feature_lengths);
  }
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
  if (!s.mid_accumulation()) {
    const double max_norm = s.config.grad_clip > 0 ? s.config.grad_clip : std::numeric_limits<double>::infinity();
    r.grad_norm = torch::nn::utils::clip_grad_norm_(s.params, max_norm);
    if (std::isfinite(r.grad_norm)) {
      s.group_options().lr(r.lr);
      s.optimizer->step();
      r.updated = true;
    } else {
      r.finite = false;  // skip the update rather than write NaN into the weights
    }
    s.optimizer->zero_grad();
  }
  r.global_step = s.global_step;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return r;
}

EvalResult Trainer::evaluate(const std::vector<Batch>& batches) {
  auto& s = *state_;
  EvalResult result;
  torch::NoGradGuard no_grad;
  s.model->eval();
  double loss_sum = 0;
  for (const auto& batch : batches) {
    check_batch(batch, s.model_config);
    check_targets(batch);
    AutocastScope autocast(s.precision, s.device.type());
    auto [log_probs, out_lengths] = s.model->forward(batch.features, batch.feature_lengths);
    // Per-utterance loss / target length, the quantity the training loss averages.
    auto per_utt = ctc(log_probs, out_lengths, batch, s.device, at::Reduction::None);
    auto target_lengths = batch.target_lengths.to(s.device, torch::kDouble).clamp_min(1);
    loss_sum += (per_utt.to(torch::kDouble) / target_lengths).sum().item<double>();
    const auto decoded = ctc_greedy_decode(log_probs, out_lengths);
    const auto refs = references_of(batch);
    for (size_t i = 0; i < decoded.size(); ++i) {
      result.hypotheses.push_back(decode_tokens(decoded[i]));
      result.references.push_back(refs[i]);
      result.ids.push_back(i < batch.ids.size() ? batch.ids[i] : std::to_string(result.utterances));
      result.utterances += 1;
    }
  }
  s.model->train();
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

// ---- checkpoints: state <-> dict --------------------------------------------------------------------------

namespace {

using GenericDict = c10::impl::GenericDict;
using GenericList = c10::impl::GenericList;

GenericDict string_dict() { return GenericDict(c10::StringType::get(), c10::AnyType::get()); }

// The optimizer keeps each parameter's state under a key made from its TensorImpl: LibTorch 1.x uses
// the address printed as a string, later releases may key by the pointer itself; the map's key type says.
template <typename StateMap>
typename StateMap::key_type optimizer_state_key(const torch::Tensor& param) {
  using Key = typename StateMap::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << param.unsafeGetTensorImpl();
    return key.str();
  } else {
    return static_cast<Key>(param.unsafeGetTensorImpl());
  }
}

at::Generator cuda_generator(size_t index) {
  return at::globalContext().defaultGenerator(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index)));
}

torch::Tensor host_copy(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true);
}

const c10::IValue& require(const GenericDict& dict, const std::string& key, const std::string& where) {
  auto it = dict.find(key);
  if (it == dict.end()) {
    throw Error(codes::kCheckpointCorrupt, where + " has no '" + key + "' entry; not an asr-trainer checkpoint");
  }
  return it->value();
}

GenericDict require_dict(const GenericDict& dict, const std::string& key, const std::string& where) {
  const auto& v = require(dict, key, where);
  if (!v.isGenericDict()) throw Error(codes::kCheckpointCorrupt, where + " entry '" + key + "' is not a dict");
  return v.toGenericDict();
}

int64_t require_int(const GenericDict& dict, const std::string& key, const std::string& where) {
  const auto& v = require(dict, key, where);
  if (v.isInt()) return v.toInt();
  if (v.isTensor() && v.toTensor().numel() == 1) return static_cast<int64_t>(v.toTensor().item<double>());
  if (v.isDouble()) return static_cast<int64_t>(v.toDouble());
  throw Error(codes::kCheckpointCorrupt, where + " entry '" + key + "' is not an integer");
}

double require_double(const GenericDict& dict, const std::string& key, const std::string& where) {
  const auto& v = require(dict, key, where);
  if (v.isDouble()) return v.toDouble();
  if (v.isInt()) return static_cast<double>(v.toInt());
  throw Error(codes::kCheckpointCorrupt, where + " entry '" + key + "' is not a number");
}

torch::Tensor require_tensor(const GenericDict& dict, const std::string& key, const std::string& where) {
  const auto& v = require(dict, key, where);
  if (!v.isTensor()) throw Error(codes::kCheckpointCorrupt, where + " entry '" + key + "' is not a tensor");
  return v.toTensor();
}

}  // namespace

CheckpointSnapshot Trainer::snapshot(const CheckpointMeta& meta) const {
  const auto& s = *state_;
  auto root = string_dict();

  c10::Dict<std::string, torch::Tensor> model;
  for (const auto& item : s.model->named_parameters()) model.insert(item.key(), host_copy(item.value()));
  for (const auto& item : s.model->named_buffers()) model.insert(item.key(), host_copy(item.value()));
  root.insert("model", model);

  // torch.optim.AdamW.state_dict()'s layout, with the parameter names alongside the indices.
  auto& states = s.optimizer->state();
  GenericDict opt_state(c10::IntType::get(), c10::AnyType::get());
  GenericList indices(c10::IntType::get());
  for (size_t i = 0; i < s.params.size(); ++i) {
    indices.push_back(static_cast<int64_t>(i));
    auto it = states.find(optimizer_state_key<std::decay_t<decltype(states)>>(s.params[i]));
    if (it == states.end()) continue;
    const auto& ps = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    auto entry = string_dict();
    entry.insert("step", torch::tensor(static_cast<double>(ps.step()), torch::kFloat));
    entry.insert("exp_avg", host_copy(ps.exp_avg()));
    entry.insert("exp_avg_sq", host_copy(ps.exp_avg_sq()));
    opt_state.insert(static_cast<int64_t>(i), entry);
  }
  const auto& o = static_cast<const torch::optim::AdamWOptions&>(s.optimizer->param_groups()[0].options());
  auto group = string_dict();
  group.insert("lr", o.lr());
  group.insert("betas", c10::ivalue::Tuple::create({std::get<0>(o.betas()), std::get<1>(o.betas())}));
  group.insert("eps", o.eps());
  group.insert("weight_decay", o.weight_decay());
  group.insert("amsgrad", o.amsgrad());
  group.insert("params", indices);
  GenericList groups(c10::AnyType::get());
  groups.push_back(group);
  auto optimizer = string_dict();
  optimizer.insert("state", opt_state);
  optimizer.insert("param_groups", groups);
  optimizer.insert("param_names", c10::List<std::string>(s.names));
  root.insert("optimizer", optimizer);

  auto scheduler = string_dict();
  scheduler.insert("name", std::string("noam"));
  scheduler.insert("peak_lr", s.config.learning_rate);
  scheduler.insert("warmup_steps", s.config.warmup_steps);
  scheduler.insert("grad_accumulation", s.config.grad_accumulation);
  scheduler.insert("last_step", s.updates());
  root.insert("scheduler", scheduler);

  root.insert("epoch", meta.epoch);
  root.insert("step", meta.step);
  root.insert("global_step", s.global_step);

  auto rng = string_dict();
  at::Generator cpu = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    rng.insert("cpu", cpu.get_state());
  }
  GenericList cuda_states(c10::TensorType::get());
  if (torch::cuda::is_available()) {
    for (size_t i = 0; i < torch::cuda::device_count(); ++i) {
      at::Generator g = cuda_generator(i);
      std::lock_guard<std::mutex> lock(g.mutex());
      cuda_states.push_back(g.get_state());
    }
  }
  rng.insert("cuda", cuda_states);
  root.insert("rng", rng);

  auto data = string_dict();
  data.insert("seed", static_cast<int64_t>(meta.data_seed));
  data.insert("epoch", meta.data_epoch);
  data.insert("batch_position", meta.batch_position);
  root.insert("data", data);

  root.insert("config", meta.config_json);
  root.insert("metrics", meta.metrics_json);
  const auto& mc = s.model_config;
  auto model_config = string_dict();
  model_config.insert("n_mels", mc.n_mels);
  model_config.insert("d_model", mc.d_model);
  model_config.insert("num_layers", mc.num_layers);
  model_config.insert("num_heads", mc.num_heads);
  model_config.insert("ffn_dim", mc.ffn_dim);
  model_config.insert("conv_kernel", mc.conv_kernel);
  model_config.insert("vocab_size", mc.vocab_size);
  model_config.insert("dropout", mc.dropout);
  root.insert("model_config", model_config);

  if (s.mid_accumulation()) {
    GenericList grads(c10::TensorType::get());
    for (const auto& p : s.params) {
      grads.push_back(p.grad().defined() ? host_copy(p.grad()) : torch::zeros_like(p, torch::kCPU));
    }
    root.insert("accumulated_grads", grads);
  }
  root.insert("format_version", kCheckpointFormatVersion);
  root.insert("libtorch_version", std::string(TORCH_VERSION));
  return CheckpointSnapshot{root};
}

void Trainer::save_checkpoint(const std::string& path, const CheckpointMeta& meta) {
  write_checkpoint(path, snapshot(meta));
}

CheckpointMeta Trainer::load_checkpoint(const std::string& path) {
  try {
    return load_checkpoint_checked(path);
  } catch (const c10::Error& e) {
    // A structure the checks above did not foresee; report it as a damaged file rather than crash.
    const std::string reason = e.what_without_backtrace();
    throw Error(codes::kCheckpointCorrupt,
                "checkpoint '" + path + "' cannot be loaded: " + reason.substr(0, reason.find('\n')));
  }
}

CheckpointMeta Trainer::load_checkpoint_checked(const std::string& path) {
  auto& s = *state_;
  const auto snapshot = read_checkpoint(path);
  const auto root = snapshot.dict.toGenericDict();
  const std::string where = "checkpoint " + path;

  // Check everything before changing anything, so a failed load leaves the trainer as it was.
  const auto model = require_dict(root, "model", where);
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  auto take = [&](const std::string& name, const torch::Tensor& target) {
    auto it = model.find(name);
    if (it == model.end() || !it->value().isTensor()) {
      throw Error(codes::kShapeMismatch, where + " has no tensor '" + name + "' (the model expects shape " +
                                             shape_string(target) + "); it was saved from a different model");
    }
    const auto source = it->value().toTensor();
    if (source.sizes() != target.sizes()) {
      throw Error(codes::kShapeMismatch, where + ": '" + name + "' has shape " + shape_string(source) +
                                             " in the checkpoint but " + shape_string(target) +
                                             " in the model; the model config differs from the one it was saved with");
    }
    copies.emplace_back(target, source);
  };
  size_t expected = 0;
  for (const auto& item : s.model->named_parameters()) take(item.key(), item.value()), ++expected;
  for (const auto& item : s.model->named_buffers()) take(item.key(), item.value()), ++expected;
  if (model.size() != expected) {
    for (const auto& item : model) {
      const auto key = item.key().toStringRef();
      if (!s.model->named_parameters().contains(key) && !s.model->named_buffers().contains(key)) {
        throw Error(codes::kShapeMismatch, where + " has '" + key + "', which this model does not have; it was " +
                                               "saved from a different model");
      }
    }
  }

  const auto optimizer = require_dict(root, "optimizer", where);
  const auto opt_state = require_dict(optimizer, "state", where + " optimizer");
  const auto& groups_value = require(optimizer, "param_groups", where + " optimizer");
  if (!groups_value.isList() || groups_value.toListRef().size() != 1 || !groups_value.toListRef()[0].isGenericDict()) {
    throw Error(codes::kCheckpointCorrupt, where + " optimizer param_groups must be a list of one dict");
  }
  const auto group = groups_value.toListRef()[0].toGenericDict();
  const auto& names_value = require(optimizer, "param_names", where + " optimizer");
  if (!names_value.isList()) throw Error(codes::kCheckpointCorrupt, where + " optimizer param_names is not a list");
  const auto& names = names_value.toListRef();
  for (size_t i = 0; i < std::max(names.size(), s.names.size()); ++i) {
    const std::string saved = i < names.size() && names[i].isString() ? names[i].toStringRef() : "<none>";
    const std::string mine = i < s.names.size() ? s.names[i] : "<none>";
    if (saved != mine) {
      throw Error(codes::kShapeMismatch, where + " optimizer parameter " + std::to_string(i) + " is '" + saved +
                                             "' but the model's is '" + mine + "'");
    }
  }
  struct Moment { int64_t step; torch::Tensor exp_avg, exp_avg_sq; };
  std::vector<std::optional<Moment>> moments(s.params.size());
  for (const auto& item : opt_state) {
    if (!item.key().isInt() || !item.value().isGenericDict()) {
      throw Error(codes::kCheckpointCorrupt, where + " optimizer state entries must be index -> dict");
    }
    const auto i = item.key().toInt();
    if (i < 0 || i >= static_cast<int64_t>(s.params.size())) {
      throw Error(codes::kCheckpointCorrupt,
                  where + " optimizer state has index " + std::to_string(i) + " out of range");
    }
    const auto entry = item.value().toGenericDict();
    const std::string at = where + " optimizer state of '" + s.names[i] + "'";
    Moment m{require_int(entry, "step", at), require_tensor(entry, "exp_avg", at),
             require_tensor(entry, "exp_avg_sq", at)};
    if (m.exp_avg.sizes() != s.params[i].sizes() || m.exp_avg_sq.sizes() != s.params[i].sizes()) {
      throw Error(codes::kShapeMismatch, at + " has shape " + shape_string(m.exp_avg) + ", the parameter " +
                                             shape_string(s.params[i]));
    }
    moments[i] = m;
  }
  const auto& betas = require(group, "betas", where + " param_groups[0]");
  if (!betas.isTuple() || betas.toTupleRef().elements().size() != 2) {
    throw Error(codes::kCheckpointCorrupt, where + " param_groups[0] betas is not a pair");
  }
  const double lr = require_double(group, "lr", where + " param_groups[0]");
  const double eps = require_double(group, "eps", where + " param_groups[0]");
  const double weight_decay = require_double(group, "weight_decay", where + " param_groups[0]");
  const auto& beta_values = betas.toTupleRef().elements();
  if (!beta_values[0].isDouble() || !beta_values[1].isDouble()) {
    throw Error(codes::kCheckpointCorrupt, where + " param_groups[0] betas are not numbers");
  }
  const double beta1 = beta_values[0].toDouble(), beta2 = beta_values[1].toDouble();
  const int64_t global_step = require_int(root, "global_step", where);

  std::vector<torch::Tensor> grads;
  auto grads_it = root.find("accumulated_grads");
  if (grads_it != root.end()) {
    if (!grads_it->value().isList() || grads_it->value().toListRef().size() != s.params.size()) {
      throw Error(codes::kCheckpointCorrupt, where + " accumulated_grads does not match the parameters");
    }
    for (size_t i = 0; i < s.params.size(); ++i) {
      const auto& g = grads_it->value().toListRef()[i];
      if (!g.isTensor() || g.toTensor().sizes() != s.params[i].sizes()) {
        throw Error(codes::kCheckpointCorrupt, where + " accumulated gradient of '" + s.names[i] + "' is damaged");
      }
      grads.push_back(g.toTensor());
    }
  }
  const auto rng = require_dict(root, "rng", where);
  const auto cpu_state = require_tensor(rng, "cpu", where + " rng");
  {
    at::Generator cpu = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(cpu.mutex());
    const auto current = cpu.get_state();
    if (cpu_state.scalar_type() != torch::kByte || cpu_state.numel() != current.numel()) {
      throw Error(codes::kCheckpointCorrupt, where + " rng.cpu is not a CPU generator state");
    }
  }

  // Apply.
  {
    torch::NoGradGuard no_grad;
    for (auto& [target, source] : copies) target.copy_(source);
  }
  auto& states = s.optimizer->state();
  for (size_t i = 0; i < s.params.size(); ++i) {
    const auto key = optimizer_state_key<std::decay_t<decltype(states)>>(s.params[i]);
    states.erase(key);
    if (!moments[i]) continue;
    auto ps = std::make_unique<torch::optim::AdamWParamState>();
    ps->step(moments[i]->step);
    ps->exp_avg(moments[i]->exp_avg.to(s.device, torch::kFloat, false, true));
    ps->exp_avg_sq(moments[i]->exp_avg_sq.to(s.device, torch::kFloat, false, true));
    states[key] = std::move(ps);
  }
  s.group_options().lr(lr).betas({beta1, beta2}).eps(eps).weight_decay(weight_decay);
  s.optimizer->zero_grad();
  for (size_t i = 0; i < grads.size(); ++i) {
    s.params[i].mutable_grad() = grads[i].to(s.device, torch::kFloat, false, true);
  }
  s.global_step = global_step;
  {
    at::Generator cpu = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(cpu.mutex());
    cpu.set_state(cpu_state);
  }
  auto cuda_it = rng.find("cuda");
  if (cuda_it != rng.end() && cuda_it->value().isList() && torch::cuda::is_available()) {
    const auto& list = cuda_it->value().toListRef();
    for (size_t i = 0; i < list.size() && i < torch::cuda::device_count(); ++i) {
      at::Generator g = cuda_generator(i);
      std::lock_guard<std::mutex> lock(g.mutex());
      g.set_state(list[i].toTensor());
    }
  }
  return checkpoint_meta(snapshot);
}

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
