#include "asr/distributed/world.h"

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "asr/errors.h"

namespace asr::distributed {
namespace {

const char* const kNames[] = {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"};
const char* const kLaunchers =
    "torchrun, SLURM srun (export them from SLURM_PROCID, SLURM_LOCALID, SLURM_NTASKS, ...) or the "
    "asr-trainer supervisor set all six";

[[noreturn]] void fail(const std::string& message) { throw Error(codes::kDistributed, message); }

int parse_int(const std::string& name, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || value < -1'000'000'000L ||
      value > 1'000'000'000L) {
    fail("environment variable " + name + "='" + text + "' is not a whole number; " + kLaunchers);
  }
  return static_cast<int>(value);
}

}  // namespace

WorldInfo world_from_environment(const EnvironmentLookup& lookup) {
  std::vector<std::string> missing;
  bool any = false;
  for (const char* name : kNames) {
    if (lookup(name)) {
      any = true;
    } else {
      missing.emplace_back(name);
    }
  }
  if (!any) return WorldInfo{};
  if (!missing.empty()) {
    std::string list;
    for (const auto& name : missing) list += (list.empty() ? "" : ", ") + name;
    fail(
        "a distributed worker needs all of RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, "
        "MASTER_PORT; missing: " +
        list + ". Fix: " + kLaunchers + ", or unset them all for one process.");
  }
  WorldInfo world;
  world.rank = parse_int("RANK", *lookup("RANK"));
  world.local_rank = parse_int("LOCAL_RANK", *lookup("LOCAL_RANK"));
  world.world_size = parse_int("WORLD_SIZE", *lookup("WORLD_SIZE"));
  world.local_world_size = parse_int("LOCAL_WORLD_SIZE", *lookup("LOCAL_WORLD_SIZE"));
  world.master_addr = *lookup("MASTER_ADDR");
  world.master_port = parse_int("MASTER_PORT", *lookup("MASTER_PORT"));
  world.agent_store = lookup("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
  if (const auto restarts = lookup("TORCHELASTIC_RESTART_COUNT")) {
    world.restart_count = parse_int("TORCHELASTIC_RESTART_COUNT", *restarts);
  }
  validate_world(world);
  return world;
}

WorldInfo world_from_environment() {
  return world_from_environment([](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value ? std::optional<std::string>(value) : std::nullopt;
  });
}

void validate_world(const WorldInfo& w) {
  const auto n = [](int v) { return std::to_string(v); };
  if (w.world_size < 1) fail("WORLD_SIZE=" + n(w.world_size) + " must be at least 1");
  if (w.rank < 0 || w.rank >= w.world_size) {
    fail("RANK=" + n(w.rank) + " must be in 0.." + n(w.world_size - 1) + " (WORLD_SIZE=" + n(w.world_size) + ")");
  }
  if (w.local_world_size < 1 || w.local_world_size > w.world_size) {
    fail("LOCAL_WORLD_SIZE=" + n(w.local_world_size) + " must be in 1.." + n(w.world_size) +
         " (the workers on this machine, at most WORLD_SIZE)");
  }
  if (w.local_rank < 0 || w.local_rank >= w.local_world_size) {
    fail("LOCAL_RANK=" + n(w.local_rank) + " must be in 0.." + n(w.local_world_size - 1) +
         " (LOCAL_WORLD_SIZE=" + n(w.local_world_size) + ")");
  }
  if (w.master_port < 1 || w.master_port > 65535) {
    fail("MASTER_PORT=" + n(w.master_port) + " must be a TCP port, 1..65535");
  }
  if (w.master_addr.empty()) fail("MASTER_ADDR is empty: give rank 0's host name or address");
  if (w.restart_count < 0) fail("TORCHELASTIC_RESTART_COUNT=" + n(w.restart_count) + " must be at least 0");
}

}  // namespace asr::distributed
