#include "asr/features.h"

#include <cmath>
#include <limits>
#include <mutex>
#include <sstream>
#include <utility>

#include "asr/audio.h"
#include "asr/errors.h"

namespace asr {

namespace {

double mel_scale(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }

int64_t window_samples(const FbankOptions& o) {
  return static_cast<int64_t>(o.sample_rate * o.frame_length_ms * 0.001);
}
int64_t shift_samples(const FbankOptions& o) { return static_cast<int64_t>(o.sample_rate * o.frame_shift_ms * 0.001); }

void validate(const FbankOptions& o) {
  const auto fail = [](const std::string& what) { throw Error(codes::kInvalidArgument, "fbank options: " + what); };
  if (!(o.sample_rate > 0)) fail("sample_rate must be positive");
  if (window_samples(o) < 2) fail("frame_length_ms gives a window of fewer than 2 samples");
  if (shift_samples(o) < 1) fail("frame_shift_ms gives a shift of less than 1 sample");
  if (o.n_fft < window_samples(o)) fail("n_fft " + std::to_string(o.n_fft) + " is shorter than the window");
  if (o.num_mel_bins < 3) fail("num_mel_bins must be at least 3");
  if (!o.snip_edges) fail("snip_edges=false is not supported");
  const double nyquist = o.sample_rate / 2;
  const double high = o.high_freq > 0 ? o.high_freq : nyquist + o.high_freq;
  if (o.low_freq < 0 || high > nyquist || o.low_freq >= high) {
    fail("need 0 <= low_freq < high_freq <= Nyquist, got low " + std::to_string(o.low_freq) + ", high " +
         std::to_string(high));
  }
}

// Triangular filters equally spaced on the mel scale, as Kaldi's MelBanks (no VTLN): (bins, n_fft/2 + 1),
// the Nyquist column zero. Built in double, then float32 like torchaudio's.
torch::Tensor mel_banks(const FbankOptions& o) {
  const int64_t num_fft_bins = o.n_fft / 2;
  const double nyquist = o.sample_rate / 2;
  const double high = o.high_freq > 0 ? o.high_freq : nyquist + o.high_freq;
  const double bin_width = o.sample_rate / o.n_fft;
  const double mel_low = mel_scale(o.low_freq), mel_high = mel_scale(high);
  const double delta = (mel_high - mel_low) / (o.num_mel_bins + 1);
  auto banks = torch::zeros({o.num_mel_bins, num_fft_bins + 1}, torch::kFloat32);
  auto acc = banks.accessor<float, 2>();
  for (int64_t m = 0; m < o.num_mel_bins; ++m) {
    const double left = mel_low + m * delta, center = left + delta, right = center + delta;
    for (int64_t k = 0; k < num_fft_bins; ++k) {
      const double mel = mel_scale(bin_width * k);
      const double up = (mel - left) / (center - left), down = (right - mel) / (right - center);
      acc[m][k] = static_cast<float>(std::max(0.0, std::min(up, down)));
    }
  }
  return banks;
}

// Kaldi's "povey" window: a Hann window raised to 0.85, non-periodic.
torch::Tensor povey_window(int64_t n) { return torch::hann_window(n, /*periodic=*/false, torch::kFloat32).pow(0.85); }

// The filter bank and window depend only on the options; fbank runs on many worker threads, so the
// constants are built once per options and shared.
struct Constants {
  std::string key;
  torch::Tensor banks_t;  // (n_fft/2 + 1, bins)
  torch::Tensor window;   // (window)
};

std::shared_ptr<const Constants> constants_for(const FbankOptions& o) {
  static std::mutex mutex;
  static std::shared_ptr<const Constants> last;
  const std::string key = o.cache_key();
  std::lock_guard<std::mutex> lock(mutex);
  if (!last || last->key != key) {
    auto c = std::make_shared<Constants>();
    c->key = key;
    c->banks_t = mel_banks(o).t().contiguous();
    c->window = povey_window(window_samples(o));
    last = c;
  }
  return last;
}

}  // namespace

std::string FbankOptions::cache_key() const {
  std::ostringstream s;
  s.precision(17);
  s << "kaldi-fbank-v1 bins=" << num_mel_bins << " sr=" << sample_rate << " len=" << frame_length_ms
    << " shift=" << frame_shift_ms << " preemph=" << preemphasis << " dither=" << dither << " nfft=" << n_fft
    << " dc=" << remove_dc_offset << " snip=" << snip_edges << " low=" << low_freq << " high=" << high_freq;
  return s.str();
}

torch::Tensor fbank_of_audio(std::vector<float> samples, double sample_rate, FbankOptions opts) {
  std::vector<float> wave = to_model_rate(std::move(samples), sample_rate);
  opts.sample_rate = kModelSampleRate;
  return fbank(torch::from_blob(wave.data(), {static_cast<int64_t>(wave.size())}, torch::kFloat32), opts).contiguous();
}

int64_t fbank_frames(int64_t num_samples, const FbankOptions& opts) {
  const int64_t window = window_samples(opts), shift = shift_samples(opts);
  if (num_samples < window) return 0;
  return 1 + (num_samples - window) / shift;
}

torch::Tensor fbank(const torch::Tensor& wave, const FbankOptions& opts) {
  validate(opts);
  if (wave.dim() != 1) {
    throw Error(codes::kInvalidArgument, "fbank expects a 1-D wave, got " + std::to_string(wave.dim()) + " dims");
  }
  const int64_t window = window_samples(opts), shift = shift_samples(opts);
  const int64_t frames = fbank_frames(wave.size(0), opts);
  if (frames == 0) return torch::zeros({0, opts.num_mel_bins}, torch::kFloat32);
  const auto constants = constants_for(opts);

  torch::NoGradGuard no_grad;
  // Kaldi works on 16-bit sample values; the wave arrives in [-1, 1].
  auto x = wave.to(torch::kFloat32).contiguous().mul(32768.0f);
  auto strided = x.as_strided({frames, window}, {shift, 1}).clone();  // (frames, window)
  if (opts.dither > 0) strided.add_(torch::randn_like(strided) * opts.dither);
  if (opts.remove_dc_offset) strided.sub_(strided.mean(1, /*keepdim=*/true));
  if (opts.preemphasis != 0) {
    // x[i] -= p * x[i-1], and x[0] -= p * x[0] (Kaldi replicates the first sample).
    auto previous = torch::cat({strided.narrow(1, 0, 1), strided.narrow(1, 0, window - 1)}, 1);
    strided = strided - previous * static_cast<float>(opts.preemphasis);
  }
  strided.mul_(constants->window);
  auto padded = torch::constant_pad_nd(strided, {0, opts.n_fft - window}, 0);
  auto power = torch::fft::rfft(padded).abs().pow(2);  // (frames, n_fft/2 + 1)
  auto mel = torch::matmul(power, constants->banks_t);
  return mel.clamp_min(std::numeric_limits<float>::epsilon()).log();
}

torch::Tensor normalize_features(const torch::Tensor& feats) {
  if (feats.dim() != 2) {
    throw Error(codes::kInvalidArgument,
                "normalize_features expects (frames, bins), got " + std::to_string(feats.dim()) + " dims");
  }
  if (feats.size(0) == 0) return feats;
  torch::NoGradGuard no_grad;
  auto mean = feats.mean(0, /*keepdim=*/true);
  auto var = (feats - mean).pow(2).mean(0, /*keepdim=*/true);
  return (feats - mean) / (var + 1e-5).sqrt();
}

}  // namespace asr
