#pragma once
// Helper threads of the data side (feature workers, the prefetcher) run beside each other or beside the
// training step; an OpenMP team per helper thread (LibTorch's intra-op pool, OpenBLAS) would oversubscribe
// the cores. omp_set_num_threads is looked up at run time because the core does not link OpenMP itself, and
// a LibTorch built without OpenMP simply lacks the symbol.
#include <dlfcn.h>
#include <torch/torch.h>

namespace asr {

inline void limit_this_thread_to_one_openmp_thread() {
  using SetFn = void (*)(int);
  static const auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  at::get_num_threads();  // LibTorch's per-thread lazy init runs first; run later, it would undo the setting
  if (set) set(1);
}

}  // namespace asr
