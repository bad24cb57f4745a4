#pragma once
// A small LJSpeech-like training set for the feature-store tests: n clips of 22.05 kHz babble, 0.6-1.6 s,
// with transcripts short enough for CTC, and store options that cache under the same temp folder.
#include <filesystem>
#include <string>
#include <vector>

#include "asr/dataset.h"
#include "data_test_util.h"

namespace asr_test {

struct ClipCorpus {
  TempDir dir;
  std::vector<asr::UtteranceSpec> specs;

  // Ids `{id_prefix}-1000`, `{id_prefix}-1001`, ...
  ClipCorpus(int n, const std::string& id_prefix) {
    std::filesystem::create_directories(dir.path() / "wavs");
    for (int i = 0; i < n; ++i) {
      const std::string id = id_prefix + "-" + std::to_string(1000 + i);
      const std::string wav = dir.file("wavs/" + id + ".wav");
      write_audio(wav, babble(0.6 + 0.1 * (i % 11), 22050, static_cast<uint32_t>(i)), 22050);
      specs.push_back({id, wav, i % 2 ? "turn on" : "go left"});
    }
  }
  asr::FeatureStoreOptions options(int threads = 2) const {
    asr::FeatureStoreOptions o;
    o.cache_dir = dir.file("cache");
    o.cache_name = "train";
    o.threads = threads;
    return o;
  }
};

}  // namespace asr_test
