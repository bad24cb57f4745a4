#include "asr/checkpoint_average.h"

#include <torch/torch.h>

#include <sstream>
#include <unordered_map>
#include <utility>

#include "asr/checkpoint.h"
#include "asr/errors.h"

namespace asr {

namespace {

using GenericDict = c10::impl::GenericDict;

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

GenericDict dict_entry(const GenericDict& root, const char* key, const std::string& path) {
  auto it = root.find(key);
  if (it == root.end() || !it->value().isGenericDict()) {
    throw Error(codes::kCheckpointCorrupt, "checkpoint '" + path + "' entry '" + key + "' is not a dict");
  }
  return it->value().toGenericDict();
}

// One model tensor as it builds up: the float64 running sum, or for integer tensors the latest value.
struct Slot {
  torch::Tensor value;
  c10::ScalarType dtype;
  bool averaged;
};

class Accumulator {
 public:
  explicit Accumulator(std::string first_path) : first_(std::move(first_path)) {}

  void add(const GenericDict& model, const std::string& path) {
    for (const auto& item : model) {
      if (!item.key().isString() || !item.value().isTensor()) {
        throw Error(codes::kCheckpointCorrupt, "checkpoint '" + path + "' model entries must be name -> tensor");
      }
    }
    if (count_ == 0) {
      for (const auto& item : model) {
        const auto& tensor = item.value().toTensor();
        const bool floating = tensor.is_floating_point();
        auto value = floating ? tensor.to(torch::kDouble, false, true) : tensor.clone();
        order_.push_back(item.key().toStringRef());
        slots_.emplace(order_.back(), Slot{std::move(value), tensor.scalar_type(), floating});
      }
      ++count_;
      return;
    }
    // Every key checked before any is added, in the first input's order for a stable message.
    for (const auto& key : order_) {
      auto it = model.find(key);
      if (it == model.end()) mismatch(path, "has no '" + key + "', which '" + first_ + "' has");
      check(slots_.at(key), it->value().toTensor(), key, path);
    }
    if (model.size() != slots_.size()) {
      for (const auto& item : model) {
        const auto& key = item.key().toStringRef();
        if (!slots_.count(key)) mismatch(path, "has '" + key + "', which '" + first_ + "' does not have");
      }
    }
    torch::NoGradGuard no_grad;
    for (const auto& key : order_) {
      auto& slot = slots_.at(key);
      const auto tensor = model.at(key).toTensor();
      if (slot.averaged)
        slot.value.add_(tensor.to(torch::kDouble));
      else
        slot.value = tensor.clone();
    }
    ++count_;
  }

  c10::Dict<std::string, torch::Tensor> mean(AverageSummary& summary) const {
    c10::Dict<std::string, torch::Tensor> out;
    for (const auto& key : order_) {
      const auto& slot = slots_.at(key);
      if (slot.averaged) {
        out.insert(key, (slot.value / static_cast<double>(count_)).to(slot.dtype));
        ++summary.averaged_tensors;
      } else {
        out.insert(key, slot.value);
        ++summary.copied_tensors;
      }
    }
    return out;
  }

 private:
  [[noreturn]] void mismatch(const std::string& path, const std::string& what) const {
    throw Error(codes::kShapeMismatch, "cannot average: checkpoint '" + path + "' " + what +
                                           "; only checkpoints of the same model can be averaged");
  }

  void check(const Slot& slot, const torch::Tensor& tensor, const std::string& key, const std::string& path) const {
    if (slot.value.sizes() != tensor.sizes()) {
      mismatch(path,
               "has '" + key + "' of shape " + shape_of(tensor) + " but '" + first_ + "' has " + shape_of(slot.value));
    }
    if (slot.dtype != tensor.scalar_type()) {
      mismatch(path, "has '" + key + "' of dtype " + std::string(c10::toString(tensor.scalar_type())) + " but '" +
                         first_ + "' has " + c10::toString(slot.dtype));
    }
  }

  std::string first_;
  int64_t count_ = 0;
  std::vector<std::string> order_;
  std::unordered_map<std::string, Slot> slots_;
};

}  // namespace

AverageSummary average_checkpoints(const std::vector<std::string>& inputs, const std::string& output) {
  if (inputs.empty()) {
    throw Error(codes::kInvalidArgument, "checkpoint averaging needs at least one input checkpoint, got none");
  }
  Accumulator accumulator(inputs.front());
  c10::IValue last;
  for (size_t i = 0; i < inputs.size(); ++i) {
    // Scoped so that each checkpoint is freed before the next is read; only the last one is kept.
    auto snapshot = read_checkpoint(inputs[i]);
    accumulator.add(dict_entry(snapshot.dict.toGenericDict(), "model", inputs[i]), inputs[i]);
    if (i + 1 == inputs.size()) last = std::move(snapshot.dict);
  }

  AverageSummary summary;
  summary.checkpoints = static_cast<int64_t>(inputs.size());
  auto root = last.toGenericDict().copy();
  root.insert_or_assign("model", accumulator.mean(summary));
  auto optimizer = dict_entry(root, "optimizer", inputs.back()).copy();
  optimizer.insert_or_assign("state", GenericDict(c10::IntType::get(), c10::AnyType::get()));
  root.insert_or_assign("optimizer", optimizer);
  (void)root.erase("accumulated_grads");  // absent unless saved mid-accumulation
  // The last input's moving average is not the average's: transcribe would decode with it instead.
  for (const char* key : {"ema_state_dict", "ema_decay", "ema_updates"}) (void)root.erase(key);
  root.insert_or_assign("metrics", std::string("{}"));
  root.insert_or_assign("averaged_from", c10::List<std::string>(inputs));
  summary.global_step = checkpoint_meta(CheckpointSnapshot{root}).global_step;
  write_checkpoint(output, CheckpointSnapshot{root});
  return summary;
}

}  // namespace asr
