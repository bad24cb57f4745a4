// The Trainer's data-parallel mode (trainer.h: attach_world, train_shard, evaluate_shards): the shard
// arithmetic, the broadcast of rank 0's state, the step under the normalisation contract of
// asr/distributed/gradient_sync.h, and the reduced evaluation. The collectives come through
// asr/collectives.h, so this file needs no c10d.
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <mutex>

#include "asr/distributed/rng_keys.h"
#include "asr/errors.h"
#include "asr/metrics.h"
#include "trainer_state.h"

namespace asr {

std::pair<int64_t, int64_t> shard_range(int64_t batch_size, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size || batch_size < 0) {
    throw Error(codes::kInvalidArgument, "no shard for rank " + std::to_string(rank) + " of " + std::to_string(size) +
                                             " in a batch of " + std::to_string(batch_size));
  }
  return {batch_size * rank / size, batch_size * (rank + 1) / size};
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void Trainer::attach_world(std::shared_ptr<Collectives> world) {
  auto& s = *state_;
  if (!world) throw Error(codes::kInvalidArgument, "attach_world needs a world");
  if (s.world) throw Error(codes::kInvalidArgument, "this trainer is already attached to a world");
  // AdamW creates a parameter's moments at its first update; a rank that never trained or loaded has none,
  // so every rank makes the missing ones (step 0, zeros: what AdamW would make) before taking rank 0's.
  auto& states = s.optimizer->state();
  std::vector<torch::optim::AdamWParamState*> moments;
  for (const auto& p : s.params) {
    auto& entry = states[optimizer_state_key<std::decay_t<decltype(states)>>(p)];
    if (!entry) {
      auto fresh = std::make_unique<torch::optim::AdamWParamState>();
      fresh->step(0);
      fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      entry = std::move(fresh);
    }
    moments.push_back(static_cast<torch::optim::AdamWParamState*>(entry.get()));
  }
  // Per parameter its AdamW step count, then the global step, the seed (its bits) the streams derive from
  // and the EMA's update count.
  const auto n = static_cast<int64_t>(moments.size());
  auto steps = torch::empty({n + 3}, torch::kLong);
  for (int64_t i = 0; i < n; ++i) steps[i] = moments[static_cast<size_t>(i)]->step();
  steps[n] = s.global_step;
  steps[n + 1] = static_cast<int64_t>(s.config.seed);
  steps[n + 2] = s.ema.updates();
  auto& o = s.group_options();
  auto settings = torch::tensor({o.lr(), std::get<0>(o.betas()), std::get<1>(o.betas()), o.eps(), o.weight_decay()},
                                torch::kDouble);
  std::vector<torch::Tensor> tensors = s.model->parameters();
  for (const auto& b : s.model->buffers()) tensors.push_back(b);
  for (auto* m : moments) tensors.push_back(m->exp_avg());
  for (auto* m : moments) tensors.push_back(m->exp_avg_sq());
  // Every rank's config has the same ema_decay, so either all ranks hold an average (from their
  // constructor or a load) or none takes part.
  if (s.ema.decay() > 0) {
    for (const auto& t : s.ema.shadow()) tensors.push_back(t);
  }
  tensors.push_back(steps);
  tensors.push_back(settings);
  world->broadcast_from_rank0(tensors);

  for (int64_t i = 0; i < n; ++i) moments[static_cast<size_t>(i)]->step(steps[i].item<int64_t>());
  s.global_step = steps[n].item<int64_t>();
  s.config.seed = static_cast<uint64_t>(steps[n + 1].item<int64_t>());
  s.ema.set_updates(steps[n + 2].item<int64_t>());
  const auto* v = settings.data_ptr<double>();
  o.lr(v[0]).betas({v[1], v[2]}).eps(v[3]).weight_decay(v[4]);
  // Gradients accumulated before a checkpoint (mid-accumulation) are rank 0's alone: summed over ranks
  // they must count once.
  if (world->rank() != 0) {
    for (auto& p : s.params) p.mutable_grad() = torch::Tensor();
  }
  s.gradient_summer = world->sum_gradients(s.params);
  s.world = std::move(world);
}

Collectives* Trainer::world() const { return state_->world.get(); }

StepResult Trainer::train_shard(const Batch& shard, int64_t global_batch_size) {
  auto& s = *state_;
  if (!s.world) throw Error(codes::kInvalidArgument, "train_shard needs a trainer attached to a world");
  if (global_batch_size < 1) {
    throw Error(codes::kInvalidArgument,
                "a global batch needs >= 1 utterance, got " + std::to_string(global_batch_size));
  }
  const int64_t rows = batch_rows(shard);
  if (rows > 0) {
    check_batch(shard, s.model_config);
    check_targets(shard);
  }
  const auto started = std::chrono::steady_clock::now();
  const int rank = s.world->rank();
  {
    // This rank's dropout and SpecAugment draws for this step, whatever ran before (a resume included).
    at::Generator cpu = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(cpu.mutex());
    cpu.set_current_seed(distributed::rank_step_stream_seed(s.config.seed, static_cast<uint64_t>(s.global_step),
                                                            static_cast<uint64_t>(rank)));
  }
  const int64_t accumulation = s.config.grad_accumulation;
  const bool last_micro_batch = (s.global_step + 1) % accumulation == 0;
  s.gradient_summer->begin_backward(last_micro_batch);

  StepResult r;
  double loss_sum = 0;
  int64_t frames = 0;
  if (rows > 0) {
    auto [log_probs, out_lengths] = s.train_forward(shard);
    auto per_utterance = ctc(log_probs, out_lengths, shard, s.device, at::Reduction::None);
    auto target_lengths = shard.target_lengths.to(s.device, per_utterance.scalar_type()).clamp_min(1);
    auto sum = (per_utterance / target_lengths).sum();
    loss_sum = sum.item<double>();
    frames = shard.feature_lengths.sum().item<int64_t>();
    // A non-finite loss still goes through backward: its NaN gradients reach every rank through the sums,
    // so all ranks skip that update together.
    (sum / (static_cast<double>(global_batch_size) * static_cast<double>(accumulation))).backward();
  }
  if (last_micro_batch) r.allreduce_s = s.gradient_summer->finish();
  s.global_step += 1;
  r.lr = noam_lr(s.config.learning_rate, s.config.warmup_steps, (s.global_step + accumulation - 1) / accumulation);
  if (!s.mid_accumulation()) s.update(r);
  if (r.updated) s.ema.update(s.params);
  // BatchNorm's running statistics saw only this rank's share; rank 0's stand for all.
  s.world->broadcast_from_rank0(s.model->buffers());

  const int size = s.world->size();
  std::vector<double> local(4 + static_cast<size_t>(size), 0.0);
  local[0] = loss_sum;
  local[1] = static_cast<double>(rows);
  local[2] = static_cast<double>(frames);
  local[3] = std::isfinite(loss_sum) ? 0.0 : 1.0;
  r.seconds = seconds_since(started);
  local[4 + static_cast<size_t>(rank)] = r.seconds;
  const auto global = s.world->sum(local);
  r.loss = global[0] / static_cast<double>(global_batch_size);
  r.utterances = static_cast<int64_t>(global[1]);
  r.frames = static_cast<int64_t>(global[2]);
  r.finite = r.finite && global[3] == 0 && std::isfinite(r.loss);
  r.rank_seconds.assign(global.begin() + 4, global.end());
  r.ids = shard.ids;
  r.global_step = s.global_step;
  return r;
}

EvalResult Trainer::evaluate_shards(const std::vector<Batch>& shards, const EvalOptions& options) {
  auto& s = *state_;
  if (!s.world) throw Error(codes::kInvalidArgument, "evaluate_shards needs a trainer attached to a world");
  EvalResult result;
  double loss_sum = 0;
  with_weights(options.weights, [&] { loss_sum = s.evaluate_into(shards, options.beam_width, result); });
  const auto chars = character_errors(result.references, result.hypotheses);
  const auto words = word_errors(result.references, result.hypotheses);
  const auto global = s.world->sum({loss_sum, static_cast<double>(result.utterances), static_cast<double>(chars.edits),
                                    static_cast<double>(chars.reference), static_cast<double>(words.edits),
                                    static_cast<double>(words.reference)});
  const auto utterances = static_cast<int64_t>(global[1]);
  result.loss = utterances > 0 ? global[0] / static_cast<double>(utterances) : 0.0;
  result.cer = ErrorCounts{static_cast<int64_t>(global[2]), static_cast<int64_t>(global[3])}.rate();
  result.wer = ErrorCounts{static_cast<int64_t>(global[4]), static_cast<int64_t>(global[5])}.rate();
  result.utterances = utterances;
  return result;
}

}  // namespace asr
