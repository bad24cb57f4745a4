// A trainer's state as a checkpoint dict (snapshot) and back (load_checkpoint): the layout of checkpoint.h.
#include <ATen/CPUGeneratorImpl.h>

#include <mutex>
#include <optional>
#include <sstream>
#include <type_traits>

#include "asr/errors.h"
#include "asr/trainer.h"
#include "trainer_state.h"

namespace asr {

namespace {

using GenericDict = c10::impl::GenericDict;
using GenericList = c10::impl::GenericList;

GenericDict string_dict() { return GenericDict(c10::StringType::get(), c10::AnyType::get()); }

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

// The moving average as a state dict (Python: model.load_state_dict(ckpt["ema_state_dict"])): the averaged
// parameters and the model's own buffers, which are not averaged.
c10::Dict<std::string, torch::Tensor> ema_state_dict(const std::vector<std::string>& names, const ModelEma& ema,
                                                     const ConformerCTC& model) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (size_t i = 0; i < names.size(); ++i) dict.insert(names[i], host_copy(ema.shadow()[i]));
  for (const auto& item : model->named_buffers()) dict.insert(item.key(), host_copy(item.value()));
  return dict;
}

// A checkpoint's average, one tensor per parameter in `s.names` order; empty when it has none.
std::vector<torch::Tensor> read_ema(const GenericDict& root, const std::vector<std::string>& names,
                                    const std::vector<torch::Tensor>& params, const std::string& where) {
  auto it = root.find("ema_state_dict");
  if (it == root.end()) return {};
  if (!it->value().isGenericDict()) throw Error(codes::kCheckpointCorrupt, where + " ema_state_dict is not a dict");
  const auto dict = it->value().toGenericDict();
  std::vector<torch::Tensor> shadow;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto t = require_tensor(dict, names[i], where + " ema_state_dict");
    if (t.sizes() != params[i].sizes()) {
      throw Error(codes::kShapeMismatch, where + " ema_state_dict '" + names[i] + "' has shape " + shape_string(t) +
                                             ", the parameter " + shape_string(params[i]));
    }
    shadow.push_back(t);
  }
  return shadow;
}

// A loaded moment becomes the optimizer's state as it is when it already is what a copy would give: float,
// on the device, dense, the sole user of its memory (read_checkpoint gives every tensor its own). That
// saves copying two thirds of a checkpoint on every load.
torch::Tensor adopt_float(const torch::Tensor& loaded, const torch::Device& device) {
  const bool own = loaded.device() == device && loaded.scalar_type() == torch::kFloat && loaded.is_contiguous() &&
                   loaded.storage_offset() == 0 && loaded.storage().nbytes() == loaded.nbytes() &&
                   loaded.storage().use_count() == 1;
  return own ? loaded : loaded.to(device, torch::kFloat, /*non_blocking=*/false, /*copy=*/true);
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
  // Lists of Any, not of int or Tensor: those pickle as torch.jit._pickle.build_intlist/build_tensorlist,
  // which torch.load(weights_only=True) refuses (so are the rng cuda states and accumulated_grads below).
  GenericList indices(c10::AnyType::get());
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
  GenericList cuda_states(c10::AnyType::get());
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
  auto model_config = string_dict();
  for_each_model_config_field(s.model_config, [&](const char* key, auto value) { model_config.insert(key, value); });
  root.insert("model_config", model_config);

  if (s.mid_accumulation()) {
    GenericList grads(c10::AnyType::get());
    for (const auto& p : s.params) {
      grads.push_back(p.grad().defined() ? host_copy(p.grad()) : torch::zeros_like(p, torch::kCPU));
    }
    root.insert("accumulated_grads", grads);
  }
  if (s.ema.decay() > 0 && s.ema.has_weights()) {
    root.insert("ema_state_dict", ema_state_dict(s.names, s.ema, s.model));
    root.insert("ema_decay", s.ema.decay());
    root.insert("ema_updates", s.ema.updates());
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
  struct Moment {
    int64_t step;
    torch::Tensor exp_avg, exp_avg_sq;
  };
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
      throw Error(codes::kShapeMismatch,
                  at + " has shape " + shape_string(m.exp_avg) + ", the parameter " + shape_string(s.params[i]));
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
  const auto ema = read_ema(root, s.names, s.params, where);
  const int64_t ema_updates = ema.empty() ? 0 : require_int(root, "ema_updates", where);
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
    ps->exp_avg(adopt_float(moments[i]->exp_avg, s.device));
    ps->exp_avg_sq(adopt_float(moments[i]->exp_avg_sq, s.device));
    states[key] = std::move(ps);
  }
  s.group_options().lr(lr).betas({beta1, beta2}).eps(eps).weight_decay(weight_decay);
  s.optimizer->zero_grad();
  for (size_t i = 0; i < grads.size(); ++i) {
    s.params[i].mutable_grad() = grads[i].to(s.device, torch::kFloat, false, true);
  }
  s.global_step = global_step;
  // A checkpoint without an average starts one at its weights (a run that turns EMA on when resuming).
  if (ema.empty()) {
    s.ema.reset(s.params);
  } else {
    s.ema.load(ema, ema_updates, s.device);
  }
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

}  // namespace asr
