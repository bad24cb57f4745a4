"""The reference side of `npm run bench`: a long-lived process that answers one JSON command per line.

The harness (bench/run.ts) keeps one of these alive and alternates: a block of project steps through the
addon, then a block of reference steps here, so both sides see the same machine state. The model, the
SpecAugment masks, the CTC loss, AdamW and the Noam rate come from conformer_ref.py (torchaudio's
Conformer on the same LibTorch as the project).

    /usr/bin/python3 bench/reference/bench_worker.py --threads 2   (then JSON lines on stdin)

Commands ({"cmd": ...}) and answers ({"ok": true, ...} or {"ok": false, "error": ...}):
  hello                                   versions, threads, BLAS
  threads  n                              intra-op threads (OpenBLAS's OpenMP pool follows)
  batch    name, audio (raw f32 16 kHz), lengths, texts      kaldi fbank + per-utterance normalisation
  model    preset, precision fp32|bf16, seed, spec_augment   a fresh model and AdamW
  steps    batch, n                       seconds of each training step
  matmul   n, dtype, reps                 GFLOP/s of an n x n x n matmul
  save     path / load path               state dict in the checkpoint layout (model + optimizer)
  fbank    audio, rate, reps              seconds per pass of (resample +) fbank at one thread
  train    quality run: see quality() below; streams {"event": ...} lines, then the answer
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torchaudio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformer_ref import PRESETS, VOCAB, ConformerCTC, noam, spec_augment  # noqa: E402

CHARS = " '" + "abcdefghijklmnopqrstuvwxyz"  # ids 1.., blank = 0 (native/core vocab.h)


def encode(text):
    return [CHARS.index(c) + 1 for c in text if c in CHARS]


def features_of(samples):
    """Kaldi fbank of 16 kHz samples as the project computes it (features.h defaults), normalised per utterance."""
    f = torchaudio.compliance.kaldi.fbank(samples.unsqueeze(0) * 32768.0, num_mel_bins=80, sample_frequency=16000,
                                          dither=0.0, energy_floor=0.0)
    mean = f.mean(0, keepdim=True)
    return (f - mean) / ((f - mean).pow(2).mean(0, keepdim=True) + 1e-5).sqrt()


def read_audio(path, lengths):
    flat = torch.from_numpy(__import__("numpy").fromfile(path, dtype="<f4").copy())
    out, at = [], 0
    for n in lengths:
        out.append(flat[at:at + n])
        at += n
    return out


def collate(feats, texts):
    b, t = len(feats), max(f.shape[0] for f in feats)
    x = torch.zeros(b, t, 80)
    for i, f in enumerate(feats):
        x[i, :f.shape[0]] = f
    tokens = [encode(s) for s in texts]
    y = torch.zeros(b, max(1, max(len(s) for s in tokens)), dtype=torch.long)
    for i, s in enumerate(tokens):
        y[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return dict(features=x, lengths=torch.tensor([f.shape[0] for f in feats]), targets=y,
                target_lengths=torch.tensor([len(s) for s in tokens]))


class Run:
    """One model + AdamW + Noam schedule, stepping like Trainer::train_step (loss.item() included)."""

    def __init__(self, preset, precision="fp32", seed=0, spec_augment=True, lr=2e-3, warmup=200, **overrides):
        torch.manual_seed(seed)
        self.model = ConformerCTC(**{**PRESETS[preset], **overrides})
        self.model.train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9,
                                           weight_decay=1e-3)
        self.precision, self.spec_augment, self.lr, self.warmup, self.update = precision, spec_augment, lr, warmup, 0

    def step(self, batch):
        x = spec_augment(batch["features"], batch["lengths"]) if self.spec_augment else batch["features"]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            log_probs, out_lengths = self.model(x, batch["lengths"])
        loss = torch.nn.functional.ctc_loss(log_probs.float().transpose(0, 1), batch["targets"], out_lengths,
                                            batch["target_lengths"], blank=0, reduction="mean", zero_infinity=True)
        value = loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.update += 1
        for group in self.optimizer.param_groups:
            group["lr"] = noam(self.lr, self.warmup, self.update)
        self.optimizer.step()
        self.optimizer.zero_grad()
        return value

    @torch.no_grad()
    def cer(self, batches, texts_of):
        self.model.eval()
        errors = chars = 0
        for batch, texts in zip(batches, texts_of):
            log_probs, lengths = self.model(batch["features"], batch["lengths"])
            best = log_probs.argmax(-1)
            for row, n, ref in zip(best, lengths, texts):
                ids = torch.unique_consecutive(row[:n]).tolist()
                hyp = "".join(CHARS[i - 1] for i in ids if i != 0)
                errors += edit_distance(hyp, ref)
                chars += len(ref)
        self.model.train()
        return errors / max(1, chars)


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def timed(fn, reps):
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def quality(cmd, batches, emit):
    """The reference recipe: shuffled fixed-size batches (no length bucketing), evaluated every eval_every
    steps on the validation batch list, until val CER <= target or the wall budget is spent."""
    run = Run(cmd["preset"], cmd.get("precision", "fp32"), cmd.get("seed", 0), True, cmd["lr"], cmd["warmup"])
    train_feats, train_texts = batches[cmd["train"]]["feats"], batches[cmd["train"]]["texts"]
    val = batches[cmd["val"]]
    bs = cmd["batch_size"]
    val_batches = [collate(val["feats"][i:i + bs], val["texts"][i:i + bs]) for i in range(0, len(val["feats"]), bs)]
    val_texts = [val["texts"][i:i + bs] for i in range(0, len(val["feats"]), bs)]
    g = torch.Generator().manual_seed(cmd.get("seed", 0))
    started, trained, step, epoch = time.perf_counter(), 0.0, 0, 0
    cer = 1.0
    while True:
        epoch += 1
        order = torch.randperm(len(train_feats), generator=g).tolist()
        for i in range(0, len(order) - bs + 1, bs):
            idx = order[i:i + bs]
            batch = collate([train_feats[j] for j in idx], [train_texts[j] for j in idx])
            t0 = time.perf_counter()
            run.step(batch)
            trained += time.perf_counter() - t0
            step += 1
            if step % cmd["eval_every"] == 0:
                cer = run.cer(val_batches, val_texts)
                wall = time.perf_counter() - started
                emit({"event": "eval", "step": step, "epoch": epoch, "cer": cer, "wall_s": wall, "train_s": trained})
                if cer <= cmd["target_cer"] or wall >= cmd["budget_s"]:
                    return {"reached": cer <= cmd["target_cer"], "cer": cer, "wall_s": wall, "steps": step}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    batches, run = {}, None

    def emit(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            c = cmd["cmd"]
            if c == "hello":
                emit({"ok": True, "torch": torch.__version__, "torchaudio": torchaudio.__version__,
                      "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available(),
                      "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "")})
            elif c == "threads":
                torch.set_num_threads(cmd["n"])
                args.threads = cmd["n"]
                emit({"ok": True, "threads": torch.get_num_threads()})
            elif c == "batch":
                audio = read_audio(cmd["audio"], cmd["lengths"])
                feats = [features_of(a) for a in audio]
                batches[cmd["name"]] = dict(feats=feats, texts=cmd["texts"], tensors=collate(feats, cmd["texts"]))
                emit({"ok": True, "frames": [f.shape[0] for f in feats]})
            elif c == "model":
                run = Run(cmd["preset"], cmd.get("precision", "fp32"), cmd.get("seed", 0), cmd.get("spec_augment", True))
                emit({"ok": True, "params": sum(q.numel() for q in run.model.parameters())})
            elif c == "steps":
                batch = batches[cmd["batch"]]["tensors"]
                losses = []
                seconds = timed(lambda: losses.append(run.step(batch)), cmd["n"])
                emit({"ok": True, "seconds": seconds, "losses": losses})
            elif c == "matmul":
                dtype = getattr(torch, cmd.get("dtype", "float32"))
                n = cmd["n"]
                a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
                a @ b
                seconds = timed(lambda: a @ b, cmd.get("reps", 10))
                emit({"ok": True, "gflops": [2 * n ** 3 / s / 1e9 for s in seconds]})
            elif c == "save":
                state = {"model": run.model.state_dict(), "optimizer": run.optimizer.state_dict()}
                start = time.perf_counter()
                with open(cmd["path"], "wb") as f:
                    torch.save(state, f)
                    f.flush()
                    os.fsync(f.fileno())
                emit({"ok": True, "seconds": time.perf_counter() - start, "bytes": os.path.getsize(cmd["path"])})
            elif c == "load":
                start = time.perf_counter()
                state = torch.load(cmd["path"])
                run.model.load_state_dict(state["model"])
                run.optimizer.load_state_dict(state["optimizer"])
                emit({"ok": True, "seconds": time.perf_counter() - start})
            elif c == "fbank":
                torch.set_num_threads(1)
                audio = torch.from_numpy(__import__("numpy").fromfile(cmd["audio"], dtype="<f4").copy())
                rate = cmd["rate"]

                def once():
                    x = audio if rate == 16000 else torchaudio.functional.resample(audio, rate, 16000)
                    torchaudio.compliance.kaldi.fbank(x.unsqueeze(0) * 32768.0, num_mel_bins=80,
                                                      sample_frequency=16000, dither=0.0, energy_floor=0.0)

                once()
                seconds = timed(once, cmd.get("reps", 5))
                torch.set_num_threads(args.threads)
                emit({"ok": True, "seconds": seconds})
            elif c == "train":
                emit({"ok": True, **quality(cmd, batches, emit)})
            else:
                emit({"ok": False, "error": f"unknown command {c}"})
        except Exception as e:  # the harness reports it; the worker stays up for the next command
            emit({"ok": False, "error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
