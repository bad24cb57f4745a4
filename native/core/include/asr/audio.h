#pragma once
// Reading audio files (libsndfile) and resampling them to the model's 16 kHz (libsoxr).
#include <string>
#include <vector>

namespace asr {

inline constexpr int kModelSampleRate = 16000;
// The cause read_audio names for a file that opens but holds no samples (the feature store counts those as
// "empty wav").
inline constexpr const char* kAudioHasNoSamples = "it holds no samples";

// A stretch of a longer file (NeMo's offset + duration, Kaldi's segments), in seconds, read from the file
// itself, so a corpus of long recordings needs no cut copies. The samples are those of the whole file's
// decode: wav and flac seek to the start; Ogg (Vorbis, Opus) and MP3 are decoded from the file's start, since
// libsndfile 1.2.0's seeks in them are not always sample-exact (audio.cpp).
struct AudioSegment {
  double offset_s = 0;
  double duration_s = 0;  // 0: to the end of the file
  bool whole_file() const { return offset_s == 0 && duration_s == 0; }
};

struct Audio {
  std::vector<float> samples;  // mono, nominally in [-1, 1] (PCM is scaled by libsndfile; float files as stored)
  int sample_rate = 0;
};

// Any format libsndfile reads (WAV 16/24/32-bit PCM, float, FLAC, Ogg Vorbis, Opus, MP3). Multi-channel input
// is mixed down to mono by averaging the channels. A segment past the file's end is cut at the end. Throws
// asr::Error(E_AUDIO_READ) naming the file and the cause when the file is missing, unreadable, or holds no
// samples (in the segment), E_INVALID_ARGUMENT for a negative offset or duration.
Audio read_audio(const std::string& path, const AudioSegment& segment = {});

// libsoxr, high quality (SOXR_HQ), float32 in and out. Output length is round(n * to_hz / from_hz).
// Returns the input unchanged when the rates are equal. Throws asr::Error(E_INVALID_ARGUMENT) for a
// non-positive rate.
std::vector<float> resample(const std::vector<float>& samples, double from_hz, double to_hz);

// The samples at the model's rate: resampled unless `sample_rate` is kModelSampleRate already (E_INVALID_ARGUMENT
// for a non-positive rate).
std::vector<float> to_model_rate(std::vector<float> samples, double sample_rate);

// read_audio (of `segment`) + resample to kModelSampleRate. speed != 1 perturbs the speed as Kaldi's and icefall's
// recipes do: the samples are taken to be at speed * their rate, so the result plays `speed` times faster (tempo and
// pitch together) and holds about 1/speed as many samples. One resampling step either way.
std::vector<float> load_audio_16k(const std::string& path, double speed = 1.0, const AudioSegment& segment = {});

}  // namespace asr
