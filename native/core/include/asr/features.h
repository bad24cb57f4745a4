#pragma once
// The front end: Kaldi-compatible log-mel filterbank computed with LibTorch ops.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace asr {

struct FbankOptions {
  int num_mel_bins = 80;
  double sample_rate = 16000;
  double frame_length_ms = 25;
  double frame_shift_ms = 10;
  double preemphasis = 0.97;
  double dither = 0;  // >0 adds Gaussian noise of this scale (on the 32768-scaled wave) from the torch generator
  int n_fft = 512;    // padded window size; must be >= the window length in samples
  bool remove_dc_offset = true;
  bool snip_edges = true;  // only true is supported (Kaldi's default, torchaudio's default)
  double low_freq = 20;
  double high_freq = 0;  // <= 0: offset from Nyquist (Kaldi convention)

  // A stable text form of every field, used to key the feature cache.
  std::string cache_key() const;
};

// wave: 1-D float32 samples at opts.sample_rate in [-1, 1]. Like Kaldi (and
// torchaudio.compliance.kaldi.fbank on a wave multiplied by 32768), the wave is scaled to 16-bit range
// before framing, so the result equals torchaudio.compliance.kaldi.fbank(wave * 32768, dither=0,
// num_mel_bins=80) — and therefore Kaldi's compute-fbank-feats on the same 16-bit file.
// Returns (frames, num_mel_bins) float32; frames = 1 + (n - window) / shift, 0 rows when n < window.
// Power spectrum, povey window, log with a floor of float32 epsilon (torchaudio's).
torch::Tensor fbank(const torch::Tensor& wave, const FbankOptions& opts = {});

// fbank of mono samples at any rate: resampled to the model's 16 kHz first (to_model_rate, audio.h), so
// opts.sample_rate is taken as 16 kHz.
torch::Tensor fbank_of_audio(std::vector<float> samples, double sample_rate, FbankOptions opts = {});

// Number of frames fbank returns for n samples.
int64_t fbank_frames(int64_t num_samples, const FbankOptions& opts = {});

// Per-utterance normalisation over time: (x - mean) / sqrt(var + 1e-5), mean and (biased) variance per
// mel bin. (T, F) -> (T, F); T == 0 passes through.
torch::Tensor normalize_features(const torch::Tensor& feats);

}  // namespace asr
