#pragma once
// Seeds for the random streams of a data-parallel step (dropout, SpecAugment), as pure functions of what
// a resume knows, so a run replays bitwise at the same world size. Proposal for the trainer:
//   - per-utterance draws (SpecAugment masks, speed perturbation): utterance_stream_seed(seed, epoch,
//     position of the utterance in the epoch's plan). The position does not depend on the world size, so
//     these draws agree for 1, 2 or 8 ranks, and a 2 -> 1 resume masks each utterance as before.
//   - per-tensor draws over a rank's padded batch (dropout): rank_step_stream_seed(seed, global step,
//     rank). Dropout masks cover the rank's (B_local, T_local, D) layout, which changes with the split, so
//     only the same world size can replay them; seeding per (step, rank) makes that replay exact without
//     saving generator states per rank.
// Seed a generator with the result (at::make_generator<at::CPUGeneratorImpl>(key), or torch::manual_seed
// before the forward when the draws come from the default generator).
#include <cstdint>

namespace asr::distributed {

// splitmix64's finaliser: a bijection on 64 bits whose outputs for neighbouring inputs look unrelated.
constexpr uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Distinct domains keep a (step, rank) key from ever equalling an (epoch, position) key.
constexpr uint64_t kUtteranceDomain = 0x5554544552414E43ULL;  // "UTTERANC"
constexpr uint64_t kRankStepDomain = 0x52414E4B53544550ULL;   // "RANKSTEP"

constexpr uint64_t utterance_stream_seed(uint64_t seed, uint64_t epoch, uint64_t position) {
  return mix64(mix64(mix64(seed ^ kUtteranceDomain) ^ epoch) ^ position);
}

constexpr uint64_t rank_step_stream_seed(uint64_t seed, uint64_t global_step, uint64_t rank) {
  return mix64(mix64(mix64(seed ^ kRankStepDomain) ^ global_step) ^ rank);
}

}  // namespace asr::distributed
