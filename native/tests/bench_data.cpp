// Measures the data side: fbank and resampling speed (x real time on one core), and, given an LJSpeech-layout
// folder, the feature store's first/second open and the padding shares of bucketed vs unbucketed plans.
//
// usage: asr_data_bench [LJSPEECH_DIR [CACHE_DIR]]
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "asr/audio.h"
#include "asr/dataset.h"
#include "asr/features.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<float> noise_tone(double seconds, int rate) {
  std::mt19937 gen(1);
  std::normal_distribution<float> noise(0.f, 0.05f);
  std::vector<float> v(static_cast<size_t>(seconds * rate));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.3f * std::sin(0.05f * static_cast<float>(i)) + noise(gen);
  return v;
}

// The bench's own crude normalisation (the project's lives in src/data/text.ts): enough to get lengths.
std::string crude_normalise(const std::string& s) {
  std::string out;
  for (char c : s) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((l >= 'a' && l <= 'z') || l == '\'') {
      out.push_back(l);
    } else if (!out.empty() && out.back() != ' ') {
      out.push_back(' ');
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

void bench_single_core() {
  torch::set_num_threads(1);
  const double audio_s = 60;
  auto wave16 = noise_tone(audio_s, 16000);
  auto tensor = torch::from_blob(wave16.data(), {static_cast<int64_t>(wave16.size())});
  asr::normalize_features(asr::fbank(tensor));  // warm-up
  const int reps = 5;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) asr::normalize_features(asr::fbank(tensor));
  std::cout << "fbank+normalize, 1 thread: " << reps * audio_s / seconds_since(start) << " x real time\n";

  for (int rate : {22050, 44100, 8000}) {
    auto wave = noise_tone(audio_s, rate);
    start = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) asr::resample(wave, rate, 16000);
    std::cout << "resample " << rate << " -> 16000 Hz (soxr HQ), 1 thread: " << reps * audio_s / seconds_since(start)
              << " x real time\n";
  }
}

void bench_dataset(const std::string& root, const std::string& cache_dir) {
  std::ifstream meta(root + "/metadata.csv");
  if (!meta) {
    std::cerr << "no metadata.csv under " << root << "\n";
    return;
  }
  std::vector<asr::UtteranceSpec> specs;
  for (std::string line; std::getline(meta, line);) {
    const auto a = line.find('|'), b = line.find('|', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string id = line.substr(0, a);
    specs.push_back({id, root + "/wavs/" + id + ".wav", crude_normalise(line.substr(b + 1))});
  }
  asr::FeatureStoreOptions opts;
  opts.cache_dir = cache_dir;
  opts.cache_name = "bench";
  std::filesystem::remove(cache_dir + "/bench.fbank");
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  auto start = std::chrono::steady_clock::now();
  auto store = asr::FeatureStore::open(specs, opts);
  const double first = seconds_since(start);
  const double audio_s = static_cast<double>(store->total_frames()) * 0.01;
  std::cout << specs.size() << " utterances, " << store->size() << " usable, " << audio_s / 3600 << " h; first open "
            << first << " s = " << audio_s / first << " x real time on " << cores << " threads ("
            << audio_s / first / cores << " per core)\n";
  start = std::chrono::steady_clock::now();
  store = asr::FeatureStore::open(specs, opts);
  std::cout << "second open: " << seconds_since(start) << " s, computed " << store->computed() << ", cached "
            << store->cached() << "\n";
  for (int64_t batch : {8, 16, 32}) {
    asr::BatchPlanOptions plan;
    plan.batch_size = batch;
    double bucketed = 0, unbucketed = 0;
    for (int epoch = 0; epoch < 5; ++epoch) {
      plan.bucket = true;
      bucketed += asr::padding_share(*store, asr::plan_epoch(*store, plan, epoch)) / 5;
      plan.bucket = false;
      unbucketed += asr::padding_share(*store, asr::plan_epoch(*store, plan, epoch)) / 5;
    }
    std::cout << "padding share, batch " << batch << ": bucketed " << bucketed << ", unbucketed " << unbucketed
              << " (mean of 5 epochs)\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench_single_core();
  if (argc > 1) {
    const std::string cache = argc > 2 ? argv[2] : (std::filesystem::temp_directory_path() / "asr-data-bench").string();
    bench_dataset(argv[1], cache);
  }
  return 0;
}
