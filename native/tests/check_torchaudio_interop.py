"""Checks a C++ checkpoint from Python: torch.load reads it, torchaudio's Conformer loads its encoder
weights strictly and reproduces the C++ encoder's output on the probe input.

usage: check_torchaudio_interop.py CKPT PROBE D_MODEL HEADS FFN LAYERS KERNEL
"""
import sys

import torch
import torchaudio


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
    print(f"ok: {len(encoder)} encoder tensors loaded strictly, max output difference {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
