#include "asr/distributed/process_group.h"

#include <torch/version.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef ASR_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

#include "asr/errors.h"

namespace asr::distributed {
namespace {

// LibTorch 2 split the process group into a front (c10d::ProcessGroup) and the backends Gloo and NCCL
// derive from (c10d::Backend); 1.13's backends are ProcessGroups. Both offer the collectives used here.
#if TORCH_VERSION_MAJOR >= 2
using CommBackend = c10d::Backend;
#else
using CommBackend = c10d::ProcessGroup;
#endif

// c10's errors carry a C++ backtrace in what(); the message alone is what a user needs.
std::string describe(const std::exception& e) {
  const auto* c10 = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10 ? c10->what_without_backtrace() : e.what();
  while (!text.empty() && (text.back() == '.' || text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string seconds(double s) {
  std::ostringstream out;
  out << s << " s";
  return out.str();
}

std::chrono::milliseconds to_ms(double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0)); }

bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

// The address Gloo binds on this rank: GLOO_SOCKET_IFNAME's interface when set (torch's own convention),
// loopback for a run on one machine's 127.0.0.1, else this host name's address.
std::shared_ptr<::gloo::transport::Device> gloo_device(const WorldInfo& world) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  if (is_loopback(world.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

std::string resolve_backend(const ProcessGroupOptions& options) {
  const auto& b = options.backend;
  if (b == "auto") return options.device.is_cuda() ? "nccl" : "gloo";
  if (b == "gloo" || b == "nccl") return b;
  throw Error(codes::kDistributed, "distributed.backend '" + b + "' is not one of auto, gloo, nccl");
}

}  // namespace

struct PendingCollective::State {
  c10::intrusive_ptr<c10d::Work> work;
  std::chrono::milliseconds timeout;
  double timeout_s;
  std::string what;
};

void PendingCollective::wait() {
  if (!state_) return;
  auto state = std::move(state_);
  try {
    state->work->wait(state->timeout);
  } catch (const std::exception& e) {
    throw Error(codes::kDistributed, state->what + " failed (a rank died, or did not answer within timeout_s=" +
                                         seconds(state->timeout_s) + "): " + describe(e));
  }
}

struct ProcessGroup::Impl {
  WorldInfo world;
  ProcessGroupOptions options;
  std::string backend;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CommBackend> group;

  PendingCollective start(const std::string& what, c10::intrusive_ptr<c10d::Work> work) const {
    // A margin over the backend's own timeout, so its error (which names the cause) arrives first.
    auto state = std::make_shared<PendingCollective::State>();
    state->work = std::move(work);
    state->timeout = to_ms(options.timeout_s + 5.0);
    state->timeout_s = options.timeout_s;
    state->what = what + " on rank " + std::to_string(world.rank) + " of " + std::to_string(world.world_size);
    return PendingCollective(std::move(state));
  }
};

bool nccl_available() {
#ifdef ASR_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

torch::Device device_for(const WorldInfo& world, const std::string& kind) {
  if (kind == "cpu") return torch::kCPU;
  if (kind != "cuda") throw Error(codes::kInvalidArgument, "device '" + kind + "' is not one of cpu, cuda");
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (world.local_rank >= count) {
    throw Error(codes::kCudaUnavailable,
                "LOCAL_RANK=" + std::to_string(world.local_rank) + " needs cuda:" + std::to_string(world.local_rank) +
                    " but this machine has " + std::to_string(count) + " CUDA device(s); start at most " +
                    std::to_string(count) + " worker(s) per machine (nproc_per_node)");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(world.local_rank));
}

ProcessGroup::ProcessGroup(const WorldInfo& world, const ProcessGroupOptions& options)
    : impl_(std::make_unique<Impl>()) {
  validate_world(world);
  if (!(options.timeout_s > 0)) {
    throw Error(codes::kDistributed, "distributed.timeout_s must be > 0, got " + std::to_string(options.timeout_s));
  }
  auto& s = *impl_;
  s.world = world;
  s.options = options;
  s.backend = resolve_backend(options);
  if (s.backend == "nccl" && !nccl_available()) {
    throw Error(codes::kDistributed,
                "backend nccl is not in this build (its LibTorch has no c10d NCCL); use "
                "backend gloo, or build against a CUDA LibTorch with NCCL");
  }
  if (s.backend == "nccl" && !options.device.is_cuda()) {
    throw Error(codes::kDistributed, "backend nccl needs a CUDA device; use gloo on the CPU");
  }
  if (s.backend == "gloo" && !options.device.is_cpu()) {
    throw Error(codes::kDistributed, "backend gloo runs here on the CPU only; use nccl (or auto) for CUDA");
  }
  const std::string where = world.master_addr + ":" + std::to_string(world.master_port);
  const auto timeout = to_ms(options.timeout_s);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(world.master_port);
    store_options.isServer = world.rank == 0 && !world.agent_store;
    store_options.numWorkers = static_cast<size_t>(world.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    s.store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, store_options);
    if (world.agent_store) {
      s.store =
          c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(world.restart_count), s.store);
    }
    if (s.backend == "gloo") {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
      gloo_options->devices.push_back(gloo_device(world));
      s.group = c10::make_intrusive<c10d::ProcessGroupGloo>(s.store, world.rank, world.world_size, gloo_options);
    } else {
#ifdef ASR_HAVE_NCCL
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      s.group = c10::make_intrusive<c10d::ProcessGroupNCCL>(s.store, world.rank, world.world_size, nccl_options);
#endif
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    const std::string fix =
        world.agent_store
            ? "check that torchrun's agent on node 0 serves " + where + " and that it is reachable from this machine"
        : world.rank == 0
            ? "check that all " + std::to_string(world.world_size) +
                  " ranks were started with MASTER_ADDR=" + world.master_addr +
                  " MASTER_PORT=" + std::to_string(world.master_port) + " and that the port is free"
            : "check that rank 0 runs and that " + where + " is reachable from this machine (firewall, MASTER_ADDR)";
    throw Error(codes::kDistributed, "rendezvous of rank " + std::to_string(world.rank) + " of " +
                                         std::to_string(world.world_size) + " at " + where + " failed (timeout_s=" +
                                         seconds(options.timeout_s) + "): " + describe(e) + ". Fix: " + fix);
  }
}

ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return impl_->world.rank; }
int ProcessGroup::size() const { return impl_->world.world_size; }
const std::string& ProcessGroup::backend() const { return impl_->backend; }
torch::Device ProcessGroup::device() const { return impl_->options.device; }
double ProcessGroup::timeout_s() const { return impl_->options.timeout_s; }

PendingCollective ProcessGroup::allreduce_sum_async(torch::Tensor tensor) {
  TORCH_CHECK(tensor.is_contiguous() && tensor.device() == device(), "allreduce needs a contiguous tensor on ",
              device().str());
  std::vector<at::Tensor> tensors{std::move(tensor)};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::SUM;
  try {
    return impl_->start("allreduce", impl_->group->allreduce(tensors, options));
  } catch (const std::exception& e) {
    throw Error(codes::kDistributed, "allreduce on rank " + std::to_string(rank()) + " failed: " + describe(e));
  }
}

void ProcessGroup::allreduce_sum(torch::Tensor tensor) { allreduce_sum_async(std::move(tensor)).wait(); }

void ProcessGroup::broadcast(std::vector<torch::Tensor> tensors, int root) {
  // One broadcast per dtype (BatchNorm's num_batches_tracked is int64 beside float parameters).
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_dtype;
  for (auto& t : tensors) by_dtype[t.scalar_type()].push_back(t);
  for (auto& [dtype, group] : by_dtype) {
    std::vector<torch::Tensor> flat_parts;
    for (const auto& t : group) flat_parts.push_back(t.detach().reshape(-1).to(device()));
    std::vector<at::Tensor> flat{torch::cat(flat_parts)};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    try {
      impl_->start("broadcast", impl_->group->broadcast(flat, options)).wait();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(codes::kDistributed, "broadcast on rank " + std::to_string(rank()) + " failed: " + describe(e));
    }
    int64_t offset = 0;
    torch::NoGradGuard no_grad;
    for (auto& t : group) {
      t.copy_(flat[0].narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

std::vector<double> ProcessGroup::allreduce_sum(const std::vector<double>& values) {
  if (values.empty()) return {};
  auto t = torch::tensor(values, torch::kDouble).to(device());
  allreduce_sum(t);
  t = t.cpu();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

int64_t ProcessGroup::allreduce_max(int64_t value) {
  auto t = torch::tensor({value}, torch::kLong).to(device());
  std::vector<at::Tensor> tensors{t};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::MAX;
  try {
    impl_->start("allreduce(max)", impl_->group->allreduce(tensors, options)).wait();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(codes::kDistributed, "allreduce(max) on rank " + std::to_string(rank()) + " failed: " + describe(e));
  }
  return t.cpu().item<int64_t>();
}

void ProcessGroup::barrier() {
  try {
    impl_->start("barrier", impl_->group->barrier()).wait();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(codes::kDistributed, "barrier on rank " + std::to_string(rank()) + " failed: " + describe(e));
  }
}

std::string ProcessGroup::broadcast_string(const std::string& text) {
  if (size() == 1) return text;
  auto length = torch::tensor({static_cast<int64_t>(text.size())}, torch::kLong);
  broadcast({length}, 0);
  auto bytes = torch::zeros({length.item<int64_t>()}, torch::kUInt8);
  if (rank() == 0) std::memcpy(bytes.data_ptr<uint8_t>(), text.data(), text.size());
  if (bytes.numel() > 0) broadcast({bytes}, 0);
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), static_cast<size_t>(bytes.numel()));
}

}  // namespace asr::distributed
