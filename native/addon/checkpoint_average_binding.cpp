// averageCheckpoints(inputs, output): the mean of N checkpoints' weights written as one checkpoint
// (asr/checkpoint_average.h says what the output keeps and drops).
#include <utility>

#include "asr/checkpoint_average.h"
#include "asr/compute_thread.h"
#include "binding.h"

namespace asr_addon {

namespace {

class AverageCheckpointsJob : public AsyncJob {
 public:
  AverageCheckpointsJob(Napi::Env env, std::vector<std::string> inputs, std::string output)
      : AsyncJob(env, "asr.averageCheckpoints"), inputs_(std::move(inputs)), output_(std::move(output)) {}

 private:
  void Run() override {
    // On this pool thread, beside any trainer's compute thread: file-bound work needs no OpenMP team.
    asr::limit_this_thread_to_one_openmp_thread();
    summary_ = asr::average_checkpoints(inputs_, output_);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("checkpoints", static_cast<double>(summary_.checkpoints));
    o.Set("averagedTensors", static_cast<double>(summary_.averaged_tensors));
    o.Set("copiedTensors", static_cast<double>(summary_.copied_tensors));
    o.Set("globalStep", static_cast<double>(summary_.global_step));
    o.Set("optimizerState", "dropped");
    return o;
  }

  std::vector<std::string> inputs_;
  std::string output_;
  asr::AverageSummary summary_;
};

Napi::Value AverageCheckpoints(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) ThrowInvalid(env, "inputs must be an array of checkpoint paths");
  const auto array = info[0].As<Napi::Array>();
  if (array.Length() == 0) ThrowInvalid(env, "inputs must name at least one checkpoint to average");
  std::vector<std::string> inputs;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    inputs.push_back(StringArg(array.Get(i), "inputs[" + std::to_string(i) + "]"));
  }
  return (new AverageCheckpointsJob(env, std::move(inputs), StringArg(info[1], "output")))->Start();
}

}  // namespace

void RegisterCheckpointAverage(Napi::Env env, Napi::Object exports) {
  exports.DefineProperty(
      Napi::PropertyDescriptor::Function(env, exports, "averageCheckpoints", AverageCheckpoints, napi_enumerable));
}

}  // namespace asr_addon
