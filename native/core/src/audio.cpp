#include "asr/audio.h"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "asr/errors.h"

namespace asr {

namespace {

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

Error audio_error(const std::string& path, const std::string& cause) {
  return Error(codes::kAudioRead, "cannot read audio file '" + path + "': " + cause);
}

// Moves the read position to frame `first`. Ogg (Vorbis, Opus) and MP3 are decoded up to it instead of
// seeking, since libsndfile 1.2.0's seeks there are not sample-exact: its Vorbis seek sometimes lands a block
// off while reporting success (libsndfile #885; 166 frames off in an oggenc file here), its Opus seek decodes
// with a short pre-roll (~1e-3 off), and an MP3 without a seek table (one libsndfile wrote) landed elsewhere
// altogether. WAV and FLAC (and the other PCM formats) seek, sample-exact.
void skip_frames(SNDFILE* file, const SF_INFO& info, sf_count_t first, const std::string& path, double offset_s) {
  const int container = info.format & SF_FORMAT_TYPEMASK;
  if (container != SF_FORMAT_OGG && container != SF_FORMAT_MPEG) {
    if (sf_seek(file, first, SEEK_SET) == first) return;
    throw audio_error(path, "cannot seek to " + std::to_string(offset_s) + " s (" + sf_strerror(file) + ")");
  }
  std::vector<float> scratch(static_cast<size_t>(8192) * static_cast<size_t>(info.channels));
  for (sf_count_t left = first; left > 0;) {
    const sf_count_t got = sf_readf_float(file, scratch.data(), std::min<sf_count_t>(left, 8192));
    if (got <= 0)
      throw audio_error(path, std::string(kAudioHasNoSamples) + " from " + std::to_string(offset_s) + " s on");
    left -= got;
  }
}

}  // namespace

Audio read_audio(const std::string& path, const AudioSegment& segment) {
  if (!(segment.offset_s >= 0) || !(segment.duration_s >= 0)) {
    throw Error(codes::kInvalidArgument, "audio segment of '" + path + "' needs offset and duration >= 0, got " +
                                             std::to_string(segment.offset_s) + " s and " +
                                             std::to_string(segment.duration_s) + " s");
  }
  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndfileCloser> file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) throw audio_error(path, sf_strerror(nullptr));
  if (info.frames <= 0 || info.channels <= 0) throw audio_error(path, kAudioHasNoSamples);
  if (info.samplerate <= 0) throw audio_error(path, "invalid sample rate " + std::to_string(info.samplerate));

  // info.frames is an estimate for MP3 (the header's, a few hundred frames above what decodes), so it only
  // bounds the read; the decoder's count is what the samples are.
  sf_count_t first = 0, wanted = info.frames;
  if (!segment.whole_file()) {
    first = static_cast<sf_count_t>(std::llround(segment.offset_s * info.samplerate));
    if (first >= info.frames) {
      throw audio_error(path, std::string(kAudioHasNoSamples) + " from " + std::to_string(segment.offset_s) +
                                  " s on (the file lasts " +
                                  std::to_string(static_cast<double>(info.frames) / info.samplerate) + " s)");
    }
    if (segment.duration_s > 0) wanted = static_cast<sf_count_t>(std::llround(segment.duration_s * info.samplerate));
    wanted = std::min(wanted, info.frames - first);
    if (first > 0) skip_frames(file.get(), info, first, path, segment.offset_s);
  }

  const auto channels = static_cast<size_t>(info.channels);
  std::vector<float> interleaved(static_cast<size_t>(wanted) * channels);
  const sf_count_t got = sf_readf_float(file.get(), interleaved.data(), wanted);
  if (got <= 0) throw audio_error(path, std::string("no frames could be decoded (") + sf_strerror(file.get()) + ")");

  Audio audio;
  audio.sample_rate = info.samplerate;
  if (channels == 1) {
    interleaved.resize(static_cast<size_t>(got));
    audio.samples = std::move(interleaved);
    return audio;
  }
  // Mixdown by averaging keeps a full-scale signal present on every channel at full scale.
  audio.samples.resize(static_cast<size_t>(got));
  const float scale = 1.0f / static_cast<float>(channels);
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    float sum = 0;
    for (size_t c = 0; c < channels; ++c) sum += interleaved[i * channels + c];
    audio.samples[i] = sum * scale;
  }
  return audio;
}

std::vector<float> resample(const std::vector<float>& samples, double from_hz, double to_hz) {
  if (!(from_hz > 0) || !(to_hz > 0)) {
    throw Error(codes::kInvalidArgument, "resample needs positive sample rates, got " + std::to_string(from_hz) +
                                             " Hz -> " + std::to_string(to_hz) + " Hz");
  }
  if (from_hz == to_hz || samples.empty()) return samples;
  const auto out_len = static_cast<size_t>(std::llround(static_cast<double>(samples.size()) * to_hz / from_hz));
  std::vector<float> out(out_len);
  size_t done = 0;
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  // The rate conversion itself is single-threaded per call; parallelism comes from the feature workers.
  const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
  soxr_error_t err = soxr_oneshot(from_hz, to_hz, 1, samples.data(), samples.size(), nullptr, out.data(), out.size(),
                                  &done, &io, &quality, &runtime);
  if (err) throw Error(codes::kInternal, std::string("libsoxr failed to resample: ") + err);
  out.resize(done);
  return out;
}

std::vector<float> to_model_rate(std::vector<float> samples, double sample_rate) {
  if (sample_rate == kModelSampleRate) return samples;
  return resample(samples, sample_rate, kModelSampleRate);
}

std::vector<float> load_audio_16k(const std::string& path, double speed, const AudioSegment& segment) {
  if (!(speed > 0)) {
    throw Error(codes::kInvalidArgument, "speed factor must be positive, got " + std::to_string(speed));
  }
  Audio audio = read_audio(path, segment);
  return to_model_rate(std::move(audio.samples), audio.sample_rate * speed);
}

}  // namespace asr
