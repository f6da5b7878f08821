"""Golden AdamW + gradient clipping trajectory from PyTorch, for test/train/adamw.test.ts.

Runs torch.optim.AdamW (betas 0.9/0.95, eps 1e-8, weight decay 0.1 on one group, 0 on the other) and
torch.nn.utils.clip_grad_norm_(max_norm=1.0) on three float32 CPU tensors of odd sizes for 6 steps with
seeded gradients (some steps large enough to be clipped) and a changing learning rate, and writes every
input and the parameters and moments after each step to fixtures/golden/adamw/adamw.json. float32
values are written as the shortest decimal that round-trips the float64 they widen to (exact).

Regenerate by hand (never in CI; CI has no torch):
    apt-get install -y python3-torch
    /usr/bin/python3 scripts/golden/make_adamw_golden.py
"""
import json
import os
import torch

torch.manual_seed(20240601)
shapes = {"decay.weight": (5, 7), "nodecay.bias": (11,), "decay2.weight": (3, 13)}
params = {n: torch.nn.Parameter(torch.randn(*s, dtype=torch.float32) * 0.5) for n, s in shapes.items()}
initial = {n: p.detach().clone() for n, p in params.items()}
opt = torch.optim.AdamW(
    [
        {"params": [params["decay.weight"], params["decay2.weight"]], "weight_decay": 0.1},
        {"params": [params["nodecay.bias"]], "weight_decay": 0.0},
    ],
    lr=1e-3, betas=(0.9, 0.95), eps=1e-8,
)
lrs = [8e-3, 4e-3, 2e-2, 1e-3, 5e-3, 8e-4]
scales = [0.05, 3.0, 0.01, 10.0, 0.2, 1e-4]
steps = []
for t, (lr, scale) in enumerate(zip(lrs, scales)):
    grads = {n: torch.randn(*s, dtype=torch.float32) * scale for n, s in shapes.items()}
    for n, p in params.items():
        p.grad = grads[n].clone()
    for g in opt.param_groups:
        g["lr"] = lr
    norm = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm=1.0)
    clipped = {n: p.grad.detach().clone() for n, p in params.items()}
    opt.step()
    steps.append({
        "lr": lr,
        "grads": {n: g.flatten().tolist() for n, g in grads.items()},
        "gradNorm": float(norm),
        "clippedGrads": {n: g.flatten().tolist() for n, g in clipped.items()},
        "params": {n: p.detach().flatten().tolist() for n, p in params.items()},
        "expAvg": {n: opt.state[p]["exp_avg"].flatten().tolist() for n, p in params.items()},
        "expAvgSq": {n: opt.state[p]["exp_avg_sq"].flatten().tolist() for n, p in params.items()},
    })

out = {
    "torch": torch.__version__,
    "hyper": {"beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weightDecay": 0.1, "maxNorm": 1.0},
    "decay": {"decay.weight": True, "nodecay.bias": False, "decay2.weight": True},
    "initial": {n: p.flatten().tolist() for n, p in initial.items()},
    "steps": steps,
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "golden", "adamw", "adamw.json")
with open(path, "w") as f:
    json.dump(out, f)
    f.write("\n")
print("wrote", os.path.normpath(path))
