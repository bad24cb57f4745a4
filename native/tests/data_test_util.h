#pragma once
// Helpers for the data-side tests: temporary folders and audio files written with libsndfile.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "remove_tree.h"

namespace asr_test {

// A fresh folder under the system temp dir, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("asr-data-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { remove_tree(path_.string()); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes interleaved samples; format e.g. SF_FORMAT_WAV | SF_FORMAT_PCM_16.
inline void write_audio(const std::string& path, const std::vector<float>& interleaved, int rate, int channels = 1,
                        int format = SF_FORMAT_WAV | SF_FORMAT_PCM_16) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << "cannot write " << path << ": " << sf_strerror(nullptr);
  const auto frames = static_cast<sf_count_t>(interleaved.size() / static_cast<size_t>(channels));
  ASSERT_EQ(sf_writef_float(f, interleaved.data(), frames), frames);
  sf_close(f);
}

inline std::vector<float> sine(double freq, double seconds, int rate, double amplitude = 0.5, double phase = 0) {
  std::vector<float> out(static_cast<size_t>(std::llround(seconds * rate)));
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<float>(amplitude * std::sin(2 * M_PI * freq * static_cast<double>(i) / rate + phase));
  }
  return out;
}

// Speech-like enough for fbank: a few harmonics with a slow amplitude envelope, plus low noise.
inline std::vector<float> babble(double seconds, int rate, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  const double f0 = 100 + (seed % 7) * 20;
  std::vector<float> out(static_cast<size_t>(std::llround(seconds * rate)));
  for (size_t i = 0; i < out.size(); ++i) {
    const double t = static_cast<double>(i) / rate;
    double v = 0;
    for (int h = 1; h <= 6; ++h) v += std::sin(2 * M_PI * f0 * h * t + h) / h;
    out[i] = static_cast<float>(0.2 * v * (0.6 + 0.4 * std::sin(2 * M_PI * 3 * t)) + noise(gen));
  }
  return out;
}

inline void write_text_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// Moves a file's mtime forward by `seconds`, so a rewrite within the same clock tick still looks changed.
inline void bump_mtime(const std::string& path, int seconds) {
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  times[1].tv_sec += seconds;
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

}  // namespace asr_test
