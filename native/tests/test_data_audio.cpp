// Audio reading (formats, rates, channels), resampling and the errors of bad files.
#include <torch/torch.h>

#include "asr/audio.h"
#include "asr/errors.h"
#include "data_test_util.h"

using asr_test::sine;
using asr_test::TempDir;
using asr_test::write_audio;

namespace {

// The frequency of the strongest FFT bin; 1 s of signal gives 1 Hz bins.
double peak_frequency(const std::vector<float>& samples, int rate) {
  auto wave = torch::from_blob(const_cast<float*>(samples.data()), {static_cast<int64_t>(samples.size())});
  auto spectrum = torch::fft::rfft(wave * torch::hann_window(wave.size(0))).abs();
  const auto bin = spectrum.argmax().item<int64_t>();
  return static_cast<double>(bin) * rate / static_cast<double>(samples.size());
}

double rms(const std::vector<float>& v, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += static_cast<double>(v[i]) * v[i];
  return std::sqrt(s / static_cast<double>(to - from));
}

std::string error_code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const asr::Error& e) {
    return e.code();
  }
  return "no error";
}

struct Format {
  int sndfile;
  const char* name;
  double tolerance;  // quantisation of the stored samples
};

class AudioFormats : public ::testing::TestWithParam<std::tuple<int, Format>> {};

TEST_P(AudioFormats, ReadsAndResamplesToSixteenKilohertzKeepingTheSineFrequency) {
  const auto [rate, format] = GetParam();
  TempDir dir;
  const std::string path = dir.file("tone.wav");
  const double freq = 1000;
  const auto written = sine(freq, 1.0, rate);
  write_audio(path, written, rate, 1, SF_FORMAT_WAV | format.sndfile);

  const asr::Audio audio = asr::read_audio(path);
  EXPECT_EQ(audio.sample_rate, rate);
  ASSERT_EQ(audio.samples.size(), written.size());
  for (size_t i = 0; i < written.size(); i += 97) EXPECT_NEAR(audio.samples[i], written[i], format.tolerance);

  const auto resampled = asr::load_audio_16k(path);
  EXPECT_EQ(resampled.size(), 16000u);  // round(n * 16000 / rate) for 1 s
  EXPECT_NEAR(peak_frequency(resampled, 16000), freq, 1.0);
  // Away from the filter's edge transients the amplitude is kept: RMS of a 0.5 sine is 0.5/sqrt(2).
  EXPECT_NEAR(rms(resampled, 1000, 15000), 0.5 / std::sqrt(2.0), 0.005);
}

INSTANTIATE_TEST_SUITE_P(RatesAndSampleFormats, AudioFormats,
                         ::testing::Combine(::testing::Values(8000, 16000, 22050, 44100),
                                            ::testing::Values(Format{SF_FORMAT_PCM_16, "pcm16", 1.0 / 16384},
                                                              Format{SF_FORMAT_PCM_24, "pcm24", 1e-6},
                                                              Format{SF_FORMAT_FLOAT, "float", 1e-7})),
                         [](const auto& info) {
                           return std::to_string(std::get<0>(info.param)) + "Hz_" + std::get<1>(info.param).name;
                         });

TEST(Audio, MixesStereoDownToMonoByAveraging) {
  TempDir dir;
  const auto left = sine(440, 0.5, 22050, 0.6);
  const auto right = sine(440, 0.5, 22050, 0.2, M_PI);  // opposite phase: the mix is 0.2 * sin
  std::vector<float> interleaved;
  for (size_t i = 0; i < left.size(); ++i) interleaved.insert(interleaved.end(), {left[i], right[i]});
  write_audio(dir.file("stereo.wav"), interleaved, 22050, 2, SF_FORMAT_WAV | SF_FORMAT_FLOAT);

  const asr::Audio audio = asr::read_audio(dir.file("stereo.wav"));
  ASSERT_EQ(audio.samples.size(), left.size());
  const auto expected = sine(440, 0.5, 22050, 0.2);
  for (size_t i = 0; i < expected.size(); ++i) ASSERT_NEAR(audio.samples[i], expected[i], 1e-6) << "sample " << i;
}

TEST(Audio, ReadsFlac) {
  TempDir dir;
  const auto tone = sine(300, 0.25, 44100);
  write_audio(dir.file("tone.flac"), tone, 44100, 1, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  const auto resampled = asr::load_audio_16k(dir.file("tone.flac"));
  EXPECT_EQ(resampled.size(), 4000u);
  EXPECT_NEAR(peak_frequency(resampled, 16000), 300, 4.0);  // 0.25 s: 4 Hz bins
}

class AudioSegments : public ::testing::TestWithParam<Format> {};

// A segment holds the samples of the whole file's decode, at every offset, for lossless and lossy codecs
// (libsndfile's own Vorbis and MP3 seeks land elsewhere at some offsets: audio.cpp).
TEST_P(AudioSegments, ASegmentIsExactlyItsStretchOfTheWholeFile) {
  TempDir dir;
  const std::string path = dir.file(std::string("tone.") + GetParam().name);
  // 16 kHz: a rate every codec here stores (Opus takes 8, 12, 16, 24 or 48 kHz).
  write_audio(path, asr_test::babble(3.0, 16000, 7), 16000, 1, GetParam().sndfile);
  const asr::Audio whole = asr::read_audio(path);
  for (int k = 1; k < 24; ++k) {
    const double offset = 0.1 * k + 0.0123 * (k % 5);
    const asr::Audio cut = asr::read_audio(path, {offset, 0.5});
    EXPECT_EQ(cut.sample_rate, 16000);
    const auto first = static_cast<size_t>(std::llround(offset * 16000));
    ASSERT_EQ(cut.samples.size(), 8000u) << "offset " << offset;
    for (size_t i = 0; i < cut.samples.size(); ++i) {
      ASSERT_NEAR(cut.samples[i], whole.samples[first + i], GetParam().tolerance)
          << "offset " << offset << " s, sample " << i;
    }
  }
  // To the end of the file, and a duration past the end is cut at the end.
  EXPECT_EQ(asr::read_audio(path, {1.5, 0}).samples.size(), whole.samples.size() - 24000);
  EXPECT_EQ(asr::read_audio(path, {1.5, 9}).samples.size(), whole.samples.size() - 24000);
}

INSTANTIATE_TEST_SUITE_P(Codecs, AudioSegments,
                         ::testing::Values(Format{SF_FORMAT_WAV | SF_FORMAT_PCM_16, "wav", 0},
                                           Format{SF_FORMAT_FLAC | SF_FORMAT_PCM_16, "flac", 0},
                                           Format{SF_FORMAT_OGG | SF_FORMAT_VORBIS, "ogg", 0},
                                           Format{SF_FORMAT_OGG | SF_FORMAT_OPUS, "opus", 0},
                                           Format{SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, "mp3", 0}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Audio, ASegmentStartingPastTheEndHoldsNoSamplesAndANegativeOneIsInvalid) {
  TempDir dir;
  write_audio(dir.file("short.wav"), sine(440, 0.5, 16000), 16000);
  try {
    asr::read_audio(dir.file("short.wav"), {0.6, 1});
    FAIL() << "no error";
  } catch (const asr::Error& e) {
    EXPECT_EQ(e.code(), "E_AUDIO_READ");
    EXPECT_NE(std::string(e.what()).find(asr::kAudioHasNoSamples), std::string::npos) << e.what();
  }
  EXPECT_EQ(error_code_of([&] { asr::read_audio(dir.file("short.wav"), {-1, 0}); }), "E_INVALID_ARGUMENT");
}

TEST(Audio, ResampledLengthIsTheRoundedRatio) {
  const std::vector<float> input(12345, 0.1f);
  EXPECT_EQ(asr::resample(input, 22050, 16000).size(), 8958u);  // 12345 * 16000 / 22050 = 8957.8
}

TEST(Audio, MissingFileIsAnAudioReadErrorNamingThePath) {
  TempDir dir;
  const std::string path = dir.file("nope.wav");
  try {
    asr::read_audio(path);
    FAIL() << "no error";
  } catch (const asr::Error& e) {
    EXPECT_EQ(e.code(), "E_AUDIO_READ");
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(Audio, EmptyGarbageAndSampleLessFilesAreAudioReadErrors) {
  TempDir dir;
  asr_test::write_text_file(dir.file("empty.wav"), "");
  asr_test::write_text_file(dir.file("garbage.wav"), "this is not a RIFF file at all, just some text");
  write_audio(dir.file("no-samples.wav"), {}, 16000);
  EXPECT_EQ(error_code_of([&] { asr::read_audio(dir.file("empty.wav")); }), "E_AUDIO_READ");
  EXPECT_EQ(error_code_of([&] { asr::read_audio(dir.file("garbage.wav")); }), "E_AUDIO_READ");
  try {
    asr::read_audio(dir.file("no-samples.wav"));
    FAIL() << "no error";
  } catch (const asr::Error& e) {
    EXPECT_EQ(e.code(), "E_AUDIO_READ");
    EXPECT_NE(std::string(e.what()).find(asr::kAudioHasNoSamples), std::string::npos) << e.what();
  }
}

TEST(Audio, ResampleRejectsNonPositiveRates) {
  EXPECT_EQ(error_code_of([] { asr::resample({0.f, 1.f}, 0, 16000); }), "E_INVALID_ARGUMENT");
  EXPECT_EQ(error_code_of([] { asr::resample({0.f, 1.f}, 16000, -1); }), "E_INVALID_ARGUMENT");
}

}  // namespace
