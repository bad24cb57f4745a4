"""Checks a C++ checkpoint from Python: torch.load reads it, torchaudio's Conformer loads its encoder
weights strictly and reproduces the C++ encoder's output on the probe input, and the whole `model`
dict loads strictly into the Python reference (bench/reference/conformer_ref.py).

usage: check_torchaudio_interop.py CKPT PROBE D_MODEL HEADS FFN LAYERS KERNEL
"""
import os
import sys

import torch
import torchaudio

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "reference"))
import conformer_ref  # noqa: E402


def main() -> int:
    ckpt_path, probe_path = sys.argv[1], sys.argv[2]
    d_model, heads, ffn, layers, kernel = (int(v) for v in sys.argv[3:8])
    ckpt = torch.load(ckpt_path, map_location="cpu")
    for key in ("model", "optimizer", "scheduler", "epoch", "step", "global_step", "rng", "data", "config",
                "metrics", "format_version", "libtorch_version"):
        assert key in ckpt, f"checkpoint lacks {key!r}"
    group = ckpt["optimizer"]["param_groups"][0]
    assert tuple(group["betas"]) == (0.9, 0.98), group["betas"]
    assert len(ckpt["optimizer"]["state"]) == len(group["params"]) > 0
    conformer = torchaudio.models.Conformer(input_dim=d_model, num_heads=heads, ffn_dim=ffn, num_layers=layers,
                                            depthwise_conv_kernel_size=kernel)
    encoder = {k[len("encoder."):]: v for k, v in ckpt["model"].items() if k.startswith("encoder.")}
    conformer.load_state_dict(encoder, strict=True)
    conformer.eval()
    probe = torch.load(probe_path)
    with torch.no_grad():
        out, _ = conformer(probe["input"], probe["lengths"])
    diff = (out - probe["output"]).abs().max().item()
    if diff > 1e-4:
        print(f"torchaudio output differs from the C++ encoder by {diff}", file=sys.stderr)
        return 1
    reference = conformer_ref.ConformerCTC(d_model=d_model, num_layers=layers, num_heads=heads, ffn_dim=ffn,
                                           conv_kernel=kernel)
    reference.load_state_dict(ckpt["model"], strict=True)
    reference.eval()
    with torch.no_grad():
        log_probs, _ = reference(probe["features"], probe["frames"])
    full_diff = (log_probs - probe["log_probs"]).abs().max().item()
    if full_diff > 1e-4:
        print(f"the Python reference's log-probabilities differ from the C++ model's by {full_diff}", file=sys.stderr)
        return 1
    print(f"ok: {len(encoder)} encoder tensors loaded strictly, max output difference {diff:.2e}; "
          f"{len(ckpt['model'])} model tensors load into the Python reference, log-prob difference {full_diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
