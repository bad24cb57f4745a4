#pragma once
// A fresh folder under the system temp directory, removed with everything in it when the test ends.
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "remove_tree.h"

namespace asr_test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "asr-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { remove_tree(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace asr_test
