"""Golden fbank values for the C++ tests: torchaudio.compliance.kaldi.fbank on a raw float32 wave.

usage: /usr/bin/python3 fbank_golden.py WAVE.f32 OUT.f32 [num_mel_bins] [low_freq] [high_freq]
WAVE.f32 holds 16 kHz samples in [-1, 1]; Kaldi (and torchaudio's Kaldi compliance) work on 16-bit sample
values, so the wave is scaled by 32768 first, which is the convention asr::fbank documents.
OUT.f32 receives the (frames, num_mel_bins) features, row-major float32.
"""
import sys

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi


def main() -> None:
    wave_path, out_path = sys.argv[1], sys.argv[2]
    num_mel_bins = int(sys.argv[3]) if len(sys.argv) > 3 else 80
    low_freq = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
    high_freq = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    wave = torch.from_numpy(np.fromfile(wave_path, dtype=np.float32))
    feats = kaldi.fbank(
        (wave * 32768).unsqueeze(0),
        num_mel_bins=num_mel_bins,
        frame_length=25.0,
        frame_shift=10.0,
        dither=0.0,
        preemphasis_coefficient=0.97,
        remove_dc_offset=True,
        window_type="povey",
        low_freq=low_freq,
        high_freq=high_freq,
        sample_frequency=16000.0,
        snip_edges=True,
    )
    feats.numpy().astype(np.float32).tofile(out_path)


if __name__ == "__main__":
    main()
