// Process-level settings a trainer depends on: intra-op threads, the device, glibc's allocator thresholds.
#include "asr/runtime.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include <unistd.h>

#include "asr/errors.h"

namespace asr {

int thread_count(int threads) {
  if (threads < 0) {
    throw Error(codes::kInvalidArgument, "threads must be >= 0 (0: all cores), got " + std::to_string(threads));
  }
  return threads == 0 ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) : threads;
}

int set_threads(int threads) {
  const int n = thread_count(threads);
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

namespace {
std::atomic<bool> allocator_tuning_allowed{true};
}  // namespace

void allow_allocator_tuning(bool allowed) { allocator_tuning_allowed = allowed; }

bool keep_freed_memory() {
#if defined(__GLIBC__)
  static const bool applied = [] {
    if (!allocator_tuning_allowed) return false;
    // Someone who tuned glibc's allocator through its environment variables keeps their settings.
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

std::size_t heap_bytes() {
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 33)
  const struct mallinfo2 info = mallinfo2();
  return info.arena + info.hblkhd;
#else
  return 0;
#endif
}

bool warm_heap(std::size_t bytes) {
  if (bytes == 0 || !keep_freed_memory()) return false;
  auto* block = static_cast<volatile char*>(std::malloc(bytes));
  if (block == nullptr) return false;
  const long page = sysconf(_SC_PAGESIZE);
  const std::size_t step = page > 0 ? static_cast<std::size_t>(page) : 4096;
  for (std::size_t at = 0; at < bytes; at += step) block[at] = 0;
  std::free(const_cast<char*>(block));
  return true;
}

}  // namespace asr
