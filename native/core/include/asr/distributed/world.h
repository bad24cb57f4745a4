#pragma once
// Where this process sits in a data-parallel run, read from torchrun's environment names so that torchrun
// (--no-python), SLURM srun, a Kubernetes Job or our own supervisor can start a worker the same way.
#include <functional>
#include <optional>
#include <string>

namespace asr::distributed {

struct WorldInfo {
  int rank = 0;                           // RANK: 0 .. world_size - 1 over all machines
  int local_rank = 0;                     // LOCAL_RANK: index on this machine; picks the CUDA device
  int world_size = 1;                     // WORLD_SIZE
  int local_world_size = 1;               // LOCAL_WORLD_SIZE: workers on this machine
  std::string master_addr = "127.0.0.1";  // MASTER_ADDR: rank 0's machine
  int master_port = 29500;                // MASTER_PORT: the TCPStore rank 0 serves (unless agent_store)
  // TORCHELASTIC_USE_AGENT_STORE=True: torchrun's agent already serves the TCPStore at MASTER_ADDR:MASTER_PORT
  // (its static rendezvous), so every rank, rank 0 included, connects to it as a client.
  bool agent_store = false;
  // TORCHELASTIC_RESTART_COUNT: the agent's store outlives the workers it restarts, so each attempt keeps its
  // keys under "/worker/attempt_N" (torch's own prefix) and never reads a killed attempt's.
  int restart_count = 0;

  bool is_distributed() const { return world_size > 1; }
  bool is_main() const { return rank == 0; }
};

// The environment's value of a name, or nullopt when it is not set.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;

// None of the six names set: a world of one (today's single process). Some or all set: all six must be,
// as whole decimal numbers where numbers are meant, and consistent (validate_world); otherwise throws
// asr::Error(E_DISTRIBUTED) naming each missing or bad variable and the launcher that sets it. torchrun's
// TORCHELASTIC_USE_AGENT_STORE ("True", as torch compares it) and TORCHELASTIC_RESTART_COUNT (0 when unset)
// are read beside them.
WorldInfo world_from_environment(const EnvironmentLookup& lookup);
WorldInfo world_from_environment();  // the process's own environment (getenv)

// Throws E_DISTRIBUTED naming the first inconsistent field: world_size >= 1, 0 <= rank < world_size,
// 1 <= local_world_size <= world_size, 0 <= local_rank < local_world_size, port 1..65535, an address.
void validate_world(const WorldInfo& world);

}  // namespace asr::distributed
