#!/usr/bin/python3
"""Golden 10-step training run of the tiny Mamba LM, for test/train/golden-training.test.ts. Run by hand, never in CI.

  /usr/bin/python3 scripts/golden/make_golden_training.py      # writes fixtures/golden/training/expected.json

Starts from fixtures/golden/tiny/model.safetensors (written by make_golden.py, whose plain-PyTorch model
this script imports: no mamba_ssm) and trains on one fixed batch of B=2 windows of L=64 lambda bases:
  loss  = F.cross_entropy(logits[:, :-1], ids[:, 1:]) (mean over B·(L-1) predictions, padded vocab 16)
  clip  = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  (the tied embedding/head counted once)
  step  = torch.optim.AdamW(betas (0.9, 0.95), eps 1e-8), lr per step from LRS (linear warmup over 3 steps
          to 1e-3, then cosine to 1e-4 at step 10), two parameter groups:
            weight_decay 0.1: every layer's in_proj.weight, conv1d.weight, x_proj.weight, dt_proj.weight,
                              out_proj.weight (the mixers' matrices)
            weight_decay 0  : backbone.embedding.weight (= the tied lm_head), layers.*.norm.weight,
                              norm_f.weight, conv1d.bias, dt_proj.bias, A_log, D
The same run is done twice from the same float32 weights: in float64 (the reference trajectory) and in
float32 (what a float32 trainer should land near). Recorded: per-step loss (before the update), grad norm
(before clipping), the float64 step-1 gradient of every parameter (PyTorch autograd), and the final
weights of both runs, by state-dict name, flattened row-major. float32 values are written with 9
significant digits (exact for float32), float64 with Python's repr (exact).
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_golden as mg  # noqa: E402  (the independent PyTorch model, safetensors reader, FASTA reader)

OUT_DIR = os.path.join(mg.ROOT, "fixtures", "golden", "training")
TINY_DIR = os.path.join(mg.ROOT, "fixtures", "golden", "tiny")
WINDOWS = [(5000, 5064), (30000, 30064)]  # 0-based half-open on the lambda genome: B=2, L=64
STEPS = 10
PEAK, FLOOR, WARMUP = 1e-3, 1e-4, 3
BETAS, EPS, WD, MAX_NORM = (0.9, 0.95), 1e-8, 0.1, 1.0
DECAY_SUFFIXES = ("in_proj.weight", "conv1d.weight", "x_proj.weight", "dt_proj.weight", "out_proj.weight")


def lr_at(t):  # t = 1..STEPS
    if t <= WARMUP:
        return PEAK * t / WARMUP
    p = (t - WARMUP) / (STEPS - WARMUP)
    return FLOOR + (PEAK - FLOOR) * 0.5 * (1 + math.cos(math.pi * p))


LRS = [lr_at(t) for t in range(1, STEPS + 1)]


def load_model(dtype):
    with open(os.path.join(TINY_DIR, "config.json")) as f:
        cfg = json.load(f)
    _, tensors = mg.read_safetensors(os.path.join(TINY_DIR, "model.safetensors"))
    model = mg.MambaLM(cfg).to(dtype)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
    assert list(missing) == ["lm_head.weight"] and not unexpected, (missing, unexpected)
    assert model.lm_head.weight is model.backbone.embedding.weight
    return model


def named_trainable(model):
    """(name, parameter) once per parameter, as parameters() yields them (the tied head skipped)."""
    return [(n, p) for n, p in model.named_parameters()]


def train(dtype, ids):
    torch.manual_seed(0)
    model = load_model(dtype)
    named = named_trainable(model)
    decay = [p for n, p in named if n.endswith(DECAY_SUFFIXES)]
    no_decay = [p for n, p in named if not n.endswith(DECAY_SUFFIXES)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
        lr=PEAK, betas=BETAS, eps=EPS,
    )
    V = model.dm["V"]
    losses, norms, first_grads = [], [], None
    for t in range(STEPS):
        opt.zero_grad(set_to_none=True)
        _, logits, _ = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
        loss.backward()
        if t == 0:
            first_grads = {n: p.grad.detach().clone() for n, p in named}
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        for g in opt.param_groups:
            g["lr"] = LRS[t]
        opt.step()
        losses.append(loss.item())
        norms.append(float(norm))
    with torch.no_grad():
        _, logits, _ = model(ids)
        final_loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1)).item()
    final = {n: p.detach().clone() for n, p in named}
    decay_names = [n for n, _ in named if n.endswith(DECAY_SUFFIXES)]
    return losses, norms, final_loss, first_grads, final, decay_names


def flat64(t):
    return [float(x) for x in t.double().flatten().tolist()]


def flat32(t):
    return [float("%.9g" % x) for x in t.float().flatten().tolist()]


def main():
    name = mg.REGION[0]
    windows = [mg.read_region(mg.FASTA, name, s, e) for s, e in WINDOWS]
    tokens = [[mg.TOKEN_IDS[b] for b in w] for w in windows]
    ids = torch.tensor(tokens)
    l64, n64, f64_loss, g64, w64, decay_names = train(torch.float64, ids)
    l32, n32, f32_loss, _, w32, _ = train(torch.float32, ids)
    out = {
        "about": "golden 10-step AdamW training run of fixtures/golden/tiny, written by scripts/golden/make_golden_training.py; do not edit by hand",
        "torch_version": torch.__version__,
        "windows": [f"{name}:{s}-{e} (0-based half-open) of fixtures/lambda_virus.fa" for s, e in WINDOWS],
        "B": len(tokens),
        "L": len(tokens[0]),
        "tokens": tokens,
        "hyper": {"beta1": BETAS[0], "beta2": BETAS[1], "eps": EPS, "weightDecay": WD, "maxNorm": MAX_NORM},
        "decay": decay_names,
        "lrs": LRS,
        "float64": {
            "losses": l64, "gradNorms": n64, "finalLoss": f64_loss,
            "firstGrads": {n: flat64(g) for n, g in g64.items()},
            "finalWeights": {n: flat64(w) for n, w in w64.items()},
        },
        "float32": {
            "losses": l32, "gradNorms": n32, "finalLoss": f32_loss,
            "finalWeights": {n: flat32(w) for n, w in w32.items()},
        },
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "expected.json")
    with open(path, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print(f"wrote {path}")
    print("float64 losses", " ".join(f"{x:.6f}" for x in l64), f"final {f64_loss:.6f}")
    print("float32 losses", " ".join(f"{x:.6f}" for x in l32), f"final {f32_loss:.6f}")
    print("grad norms (f64)", " ".join(f"{x:.4f}" for x in n64))
    print("max |loss32 - loss64| / loss64:", max(abs(a - b) / b for a, b in zip(l32, l64)))


if __name__ == "__main__":
    main()
