#pragma once
// Removes a folder and everything under it (test temp folders). Not std::filesystem::remove_all: a pip
// LibTorch 2.x exports its own copy of that function from libtorch.so, the loader binds the tests to it,
// and it crashes (seen with torch 2.11 on the GPU machine, scripts/gpu-check.sh).
#include <ftw.h>

#include <cstdio>
#include <string>

namespace asr_test {

inline void remove_tree(const std::string& path) {
  ::nftw(
      path.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return std::remove(p); }, 16,
      FTW_DEPTH | FTW_PHYS);
}

}  // namespace asr_test
