"""Python reference of the C++ training step (torchaudio Conformer on the same LibTorch).

The same network as native/core (Conv2d 4x subsampling -> torchaudio.models.Conformer -> linear CTC
head, parameter names `subsampling.conv.{0,2}`, `subsampling.out`, `encoder.*`, `ctc_head`), the same
SpecAugment shape, CTC loss (zero_infinity, mean over target lengths), AdamW (0.9, 0.98) with the Noam
rate and gradient-norm clipping. Timing mode prints ms per step; run it with the same thread count as
the C++ bench:

    OMP_NUM_THREADS=2 /usr/bin/python3 bench/reference/conformer_ref.py --threads 2
    build-model/native/tests/asr_bench_step --threads 2
"""
import argparse
import math
import statistics
import time

import torch
import torchaudio

PRESETS = {
    "xs": dict(d_model=144, num_layers=4, num_heads=4, ffn_dim=576),
    "s": dict(d_model=144, num_layers=16, num_heads=4, ffn_dim=576),
    "m": dict(d_model=256, num_layers=16, num_heads=4, ffn_dim=1024),
    "l": dict(d_model=512, num_layers=17, num_heads=8, ffn_dim=2048),
}
VOCAB = 29


class Conv2dSubsampling(torch.nn.Module):
    def __init__(self, n_mels: int, d_model: int):
        super().__init__()
        self.conv = torch.nn.Sequential(
            torch.nn.Conv2d(1, d_model, 3, stride=2), torch.nn.ReLU(),
            torch.nn.Conv2d(d_model, d_model, 3, stride=2), torch.nn.ReLU())
        self.out = torch.nn.Linear(d_model * (((n_mels - 1) // 2 - 1) // 2), d_model)

    def forward(self, x):
        x = self.conv(x.unsqueeze(1))
        b, d, t, f = x.shape
        return self.out(x.transpose(1, 2).reshape(b, t, d * f))


class ConformerCTC(torch.nn.Module):
    def __init__(self, d_model, num_layers, num_heads, ffn_dim, conv_kernel=31, n_mels=80, dropout=0.1):
        super().__init__()
        self.subsampling = Conv2dSubsampling(n_mels, d_model)
        self.encoder = torchaudio.models.Conformer(input_dim=d_model, num_heads=num_heads, ffn_dim=ffn_dim,
                                                   num_layers=num_layers, depthwise_conv_kernel_size=conv_kernel,
                                                   dropout=dropout)
        self.ctc_head = torch.nn.Linear(d_model, VOCAB)

    def forward(self, features, lengths):
        x = self.subsampling(features)
        lengths = torch.div(torch.div(lengths - 1, 2, rounding_mode="floor") - 1, 2, rounding_mode="floor")
        x, lengths = self.encoder(x, lengths.clamp(min=1, max=x.shape[1]))
        return torch.log_softmax(self.ctc_head(x), -1), lengths


def spec_augment(features, lengths, freq_masks=2, freq_width=27, time_masks=2, time_fraction=0.05):
    b, t, f = features.shape
    r = torch.rand(b, 2 * (freq_masks + time_masks), dtype=torch.float64)
    mask = torch.zeros(b, t, f, dtype=torch.bool)
    width = (r[:, :freq_masks] * (min(freq_width, f) + 1)).floor()
    start = (r[:, freq_masks:2 * freq_masks] * (f - width + 1)).floor()
    bins = torch.arange(f, dtype=torch.float64).view(1, 1, f)
    mask |= ((bins >= start.unsqueeze(-1)) & (bins < (start + width).unsqueeze(-1))).any(1).unsqueeze(1)
    length = lengths.to(torch.float64).clamp(max=t).unsqueeze(1)
    o = 2 * freq_masks
    width = (r[:, o:o + time_masks] * ((length * time_fraction).floor() + 1)).floor()
    start = (r[:, o + time_masks:] * (length - width + 1).clamp(min=0)).floor()
    frames = torch.arange(t, dtype=torch.float64).view(1, 1, t)
    mask |= ((frames >= start.unsqueeze(-1)) & (frames < (start + width).unsqueeze(-1))).any(1).unsqueeze(-1)
    return features.masked_fill(mask, 0.0)


def noam(peak, warmup, update):
    return peak if warmup <= 0 else peak * min(update / warmup, math.sqrt(warmup / update))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="xs", choices=PRESETS)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=400)
    p.add_argument("--chars", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--no-specaugment", action="store_true")
    p.add_argument("--device", default="cpu", help="cpu or cuda (scripts/gpu-check.sh)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"), help="bf16: autocast of the forward")
    args = p.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if args.precision == "bf16" and not cuda:
        # torchaudio's Conformer under LibTorch 1.13's CPU autocast fails (bf16 input, fp32 layer_norm weights).
        p.error("--precision bf16 is for --device cuda")

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ConformerCTC(**PRESETS[args.preset]).to(device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, betas=(0.9, 0.98), eps=1e-9, weight_decay=1e-3)
    g = torch.Generator().manual_seed(1234)
    features = torch.randn(args.batch, args.frames, 80, generator=g)
    lengths = torch.full((args.batch,), args.frames, dtype=torch.long)
    targets = torch.randint(3, VOCAB, (args.batch, args.chars), generator=g)
    target_lengths = torch.full((args.batch,), args.chars, dtype=torch.long)
    features, lengths, targets, target_lengths = (t.to(device) for t in (features, lengths, targets, target_lengths))

    times, cpu_times = [], []
    for step in range(1, args.warmup + args.steps + 1):
        start, cpu_start = time.perf_counter(), time.process_time()
        x = features if args.no_specaugment else spec_augment(features.cpu(), lengths.cpu()).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            log_probs, out_lengths = model(x, lengths)
            loss = torch.nn.functional.ctc_loss(log_probs.float().transpose(0, 1), targets, out_lengths,
                                                target_lengths, blank=0, reduction="mean", zero_infinity=True)
        loss_value = loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        for group in optimizer.param_groups:
            group["lr"] = noam(2e-3, 200, step)
        optimizer.step()
        optimizer.zero_grad()
        if cuda:
            torch.cuda.synchronize()
        ms, cpu_ms = (time.perf_counter() - start) * 1e3, (time.process_time() - cpu_start) * 1e3
        if step > args.warmup:
            times.append(ms)
            cpu_times.append(cpu_ms)
        print(f"step {step}: {ms:.1f} ms (cpu {cpu_ms:.1f} ms) loss {loss_value:.4f}")
    params = sum(p.numel() for p in model.parameters())
    print(f"python preset={args.preset} batch={args.batch} frames={args.frames} threads={args.threads} "
          f"device={device} precision={args.precision} torch={torch.__version__} params={params} median_ms={statistics.median(times):.1f} min_ms={min(times):.1f} "
          f"median_cpu_ms={statistics.median(cpu_times):.1f}")


if __name__ == "__main__":
    main()
