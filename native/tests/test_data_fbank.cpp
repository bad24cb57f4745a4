// fbank against torchaudio.compliance.kaldi.fbank (run under the system Python), and normalisation.
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>

#include "asr/errors.h"
#include "asr/features.h"
#include "data_test_util.h"

using asr_test::TempDir;

namespace {

void write_floats(const std::string& path, const std::vector<float>& v) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}

std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<float> v(static_cast<size_t>(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

// torchaudio's features for `wave`, computed now by fbank_golden.py.
torch::Tensor torchaudio_fbank(const std::vector<float>& wave, const asr::FbankOptions& o) {
  TempDir dir;
  write_floats(dir.file("wave.f32"), wave);
  const std::string command = std::string(ASR_SYSTEM_PYTHON) + " " + ASR_FBANK_GOLDEN_SCRIPT + " " +
                              dir.file("wave.f32") + " " + dir.file("golden.f32") + " " +
                              std::to_string(o.num_mel_bins) + " " + std::to_string(o.low_freq) + " " +
                              std::to_string(o.high_freq);
  const int rc = std::system(command.c_str());
  if (rc != 0) {
    ADD_FAILURE() << "the golden script failed (rc " << rc << "): " << command
                  << "\nit needs /usr/bin/python3 with torch and torchaudio (scripts/setup.sh installs them)";
    return {};
  }
  auto golden = read_floats(dir.file("golden.f32"));
  const auto frames = static_cast<int64_t>(golden.size()) / o.num_mel_bins;
  return torch::from_blob(golden.data(), {frames, o.num_mel_bins}).clone();
}

// A signal with what speech has and what edge cases need: harmonics, a chirp, noise, a DC offset, silence.
std::vector<float> test_signal(double seconds) {
  auto wave = asr_test::babble(seconds, 16000, 7);
  const size_t n = wave.size();
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / 16000;
    wave[i] += static_cast<float>(0.1 * std::sin(2 * M_PI * (200 + 1500 * t) * t) + 0.05);
  }
  for (size_t i = n / 2; i < n / 2 + 3200; ++i) wave[i] = 0;  // 0.2 s of digital silence: the log floor
  return wave;
}

void expect_matches_torchaudio(const std::vector<float>& wave, const asr::FbankOptions& opts) {
  auto ours = asr::fbank(torch::from_blob(const_cast<float*>(wave.data()), {static_cast<int64_t>(wave.size())}), opts);
  auto golden = torchaudio_fbank(wave, opts);
  ASSERT_TRUE(golden.defined());
  ASSERT_EQ(ours.sizes(), golden.sizes());
  const auto relative = ((ours - golden).abs() / golden.abs().clamp_min(1.0)).max().item<double>();
  std::cout << "fbank vs torchaudio (" << ours.size(0) << " frames, " << opts.num_mel_bins
            << " bins): max relative difference " << relative << "\n";
  EXPECT_LT(relative, 1e-3);
}

TEST(Fbank, MatchesTorchaudioKaldiFbankWithinOnePerMille) {
  expect_matches_torchaudio(test_signal(2.0), asr::FbankOptions{});
}

TEST(Fbank, MatchesTorchaudioWithOtherMelSettings) {
  asr::FbankOptions opts;
  opts.num_mel_bins = 40;
  opts.low_freq = 60;
  opts.high_freq = -400;  // Kaldi's convention: offset from Nyquist
  expect_matches_torchaudio(test_signal(1.03), opts);
}

TEST(Fbank, FrameCountFollowsSnipEdges) {
  EXPECT_EQ(asr::fbank_frames(399), 0);
  EXPECT_EQ(asr::fbank_frames(400), 1);
  EXPECT_EQ(asr::fbank_frames(16000), 98);  // 1 + (16000 - 400) / 160
  EXPECT_EQ(asr::fbank(torch::zeros({16000})).sizes(), (std::vector<int64_t>{98, 80}));
  EXPECT_EQ(asr::fbank(torch::zeros({100})).sizes(), (std::vector<int64_t>{0, 80}));
}

TEST(Fbank, RejectsBadOptions) {
  asr::FbankOptions opts;
  opts.n_fft = 256;  // shorter than the 400-sample window
  EXPECT_THROW(asr::fbank(torch::zeros({1000}), opts), asr::Error);
  opts = {};
  opts.snip_edges = false;
  EXPECT_THROW(asr::fbank(torch::zeros({1000}), opts), asr::Error);
  EXPECT_THROW(asr::fbank(torch::zeros({2, 1000})), asr::Error);
}

TEST(Fbank, CacheKeyChangesWithEverySetting) {
  const asr::FbankOptions base;
  auto changed = base;
  changed.low_freq = 40;
  EXPECT_NE(base.cache_key(), changed.cache_key());
  changed = base;
  changed.preemphasis = 0.9;
  EXPECT_NE(base.cache_key(), changed.cache_key());
  EXPECT_EQ(base.cache_key(), asr::FbankOptions{}.cache_key());
}

TEST(Fbank, NormalizeGivesZeroMeanUnitVariancePerBin) {
  auto feats = torch::randn({300, 80}) * 3 + 7;
  auto normed = asr::normalize_features(feats);
  EXPECT_LT(normed.mean(0).abs().max().item<double>(), 1e-4);
  EXPECT_LT((normed.var(0, /*unbiased=*/false) - 1).abs().max().item<double>(), 1e-3);
  EXPECT_EQ(asr::normalize_features(torch::zeros({0, 80})).size(0), 0);
}

}  // namespace
