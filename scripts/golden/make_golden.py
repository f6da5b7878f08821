#!/usr/bin/python3
"""Golden model state for mamba-dna, from an independent plain-PyTorch Mamba LM. Run by hand, never in CI.

  /usr/bin/python3 scripts/golden/make_golden.py                    # writes fixtures/golden/tiny/
  /usr/bin/python3 scripts/golden/make_golden.py --check-checkpoint DIR   # can PyTorch load OUR checkpoint?

Needs Debian's python3-torch (1.13) and python3-numpy (`apt-get install -y python3-torch python3-numpy`);
no mamba_ssm, no safetensors package: both the model and the file format are written out here.

The model follows mamba_ssm's reference semantics, re-written from them rather than imported:
  MambaLMHeadModel (models/mixer_seq_simple.py): embedding (V_pad, D), n_layer Blocks, norm_f, tied head.
  Block (modules/mamba_simple.py) with fused add-norm ordering: residual = hidden + residual;
      hidden = mixer(norm(residual)); the final norm_f is applied to hidden + residual.
  Mamba.forward slow path: in_proj → x, z; x = silu(conv1d(x)[..., :L]) (depthwise, padding K-1,
      truncated: causal); x_proj → (δ, B, C); Δ = softplus(dt_proj.weight·δ + dt_proj.bias);
      A = -exp(A_log); selective_scan_ref: h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t, y_t = C_t·h_t + D u_t;
      y = y · silu(z); out_proj.
  RMSNorm (ops/triton/layernorm.py rms_norm_ref): x · rsqrt(mean(x²) + eps) · weight, eps 1e-5.
The expected outputs are computed in float64 from the float32 weights stored in the fixture.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT_DIR = os.path.join(ROOT, "fixtures", "golden", "tiny")
FASTA = os.path.join(ROOT, "fixtures", "lambda_virus.fa")
# HyenaDNA CharacterTokenizer ids: 7 special tokens, then the bases
TOKEN_IDS = {"A": 7, "C": 8, "G": 9, "T": 10, "N": 11}

TINY = {
    "d_model": 16,
    "n_layer": 2,
    "vocab_size": 12,
    "ssm_cfg": {"d_state": 4, "d_conv": 4, "expand": 2},
    "rms_norm": True,
    "residual_in_fp32": True,
    "fused_add_norm": True,
    "pad_vocab_size_multiple": 8,
    "tie_embeddings": True,
}
DEFAULT = dict(TINY, d_model=128, n_layer=12, ssm_cfg={"d_state": 16, "d_conv": 4, "expand": 2})
REGION = ("gi|9626243|ref|NC_001416.1|", 1000, 1067)  # 0-based half-open: 67 bases


# ----------------------------------------------------------------------------------------------
# safetensors by hand (the spec: u64 LE header length, JSON header, contiguous little-endian data)

DTYPES = {"F32": (np.float32, 4), "F16": (np.float16, 2), "F64": (np.float64, 8)}


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> np.ndarray (float32). Layout as the Rust library writes it: sorted names,
    header padded with spaces to a multiple of 8."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    names = sorted(tensors)
    for name in names:
        a = np.ascontiguousarray(tensors[name], dtype=np.float32)
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in names:
            f.write(np.ascontiguousarray(tensors[name], dtype="<f4").tobytes())
    os.replace(tmp, path)


def read_safetensors(path):
    """Strict reader: returns (metadata, {name: np.ndarray}) or raises ValueError with the reason."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("shorter than 8 bytes")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > 100_000_000 or 8 + n > len(raw):
        raise ValueError(f"bad header length {n}")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n :]
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"])
    cursor = 0
    out = {}
    for name, info in entries:
        b, e = info["data_offsets"]
        if b != cursor:
            raise ValueError(f"{name}: offset {b}, expected {cursor}")
        dt, size = DTYPES[info["dtype"]]
        if e - b != size * int(np.prod(info["shape"], dtype=np.int64)):
            raise ValueError(f"{name}: size mismatch")
        out[name] = np.frombuffer(data[b:e], dtype=np.dtype(dt).newbyteorder("<")).reshape(info["shape"]).copy()
        cursor = e
    if cursor != len(data):
        raise ValueError(f"{len(data) - cursor} trailing bytes")
    return metadata, out


# ----------------------------------------------------------------------------------------------
# the model


def dims(cfg):
    d = cfg["d_model"]
    ssm = cfg.get("ssm_cfg", {})
    v = cfg["vocab_size"]
    m = cfg.get("pad_vocab_size_multiple", 8)
    if v % m:
        v += m - v % m
    rank = ssm.get("dt_rank", "auto")
    return dict(
        D=d, ED=ssm.get("expand", 2) * d, N=ssm.get("d_state", 16), K=ssm.get("d_conv", 4),
        R=math.ceil(d / 16) if rank == "auto" else rank, V=v, L=cfg["n_layer"],
    )


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Mixer(nn.Module):
    def __init__(self, dm):
        super().__init__()
        D, ED, N, K, R = dm["D"], dm["ED"], dm["N"], dm["K"], dm["R"]
        self.N, self.R, self.K = N, R, K
        self.in_proj = nn.Linear(D, 2 * ED, bias=False)
        self.conv1d = nn.Conv1d(ED, ED, kernel_size=K, groups=ED, padding=K - 1, bias=True)
        self.x_proj = nn.Linear(ED, R + 2 * N, bias=False)
        self.dt_proj = nn.Linear(R, ED, bias=True)
        self.A_log = nn.Parameter(torch.zeros(ED, N))
        self.D = nn.Parameter(torch.ones(ED))
        self.out_proj = nn.Linear(ED, D, bias=False)

    def forward(self, h):  # (B, L, D)
        Bsz, L, _ = h.shape
        x, z = self.in_proj(h).chunk(2, dim=-1)  # (B, L, ED) each
        x = F.silu(self.conv1d(x.transpose(1, 2))[..., :L]).transpose(1, 2)  # causal depthwise conv
        dt, Bm, Cm = torch.split(self.x_proj(x), [self.R, self.N, self.N], dim=-1)
        delta = F.softplus(dt @ self.dt_proj.weight.t() + self.dt_proj.bias)  # (B, L, ED)
        A = -torch.exp(self.A_log)  # (ED, N)
        state = torch.zeros(Bsz, A.shape[0], self.N, dtype=h.dtype)
        ys = []
        for t in range(L):  # selective_scan_ref's loop
            dA = torch.exp(delta[:, t, :, None] * A)
            dBu = delta[:, t, :, None] * Bm[:, t, None, :] * x[:, t, :, None]
            state = dA * state + dBu
            ys.append((state * Cm[:, t, None, :]).sum(-1))
        y = torch.stack(ys, dim=1) + x * self.D
        return self.out_proj(y * F.silu(z))

    def step(self, h, conv_state, ssm_state):  # one token (B, D): the recurrent form, for self-checking
        x, z = self.in_proj(h).chunk(2, dim=-1)
        conv_state = torch.cat([conv_state[:, :, 1:], x[:, :, None]], dim=-1)  # (B, ED, K)
        x = F.silu((conv_state * self.conv1d.weight[:, 0, :]).sum(-1) + self.conv1d.bias)
        dt, Bm, Cm = torch.split(self.x_proj(x), [self.R, self.N, self.N], dim=-1)
        delta = F.softplus(dt @ self.dt_proj.weight.t() + self.dt_proj.bias)
        A = -torch.exp(self.A_log)
        ssm_state = torch.exp(delta[:, :, None] * A) * ssm_state + delta[:, :, None] * Bm[:, None, :] * x[:, :, None]
        y = (ssm_state * Cm[:, None, :]).sum(-1) + x * self.D
        return self.out_proj(y * F.silu(z)), conv_state, ssm_state


class Block(nn.Module):
    def __init__(self, dm):
        super().__init__()
        self.mixer = Mixer(dm)
        self.norm = RMSNorm(dm["D"])


class Backbone(nn.Module):
    def __init__(self, dm):
        super().__init__()
        self.embedding = nn.Embedding(dm["V"], dm["D"])
        self.layers = nn.ModuleList([Block(dm) for _ in range(dm["L"])])
        self.norm_f = RMSNorm(dm["D"])


class MambaLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dm = dims(cfg)
        self.backbone = Backbone(self.dm)
        self.lm_head = nn.Linear(self.dm["D"], self.dm["V"], bias=False)
        self.lm_head.weight = self.backbone.embedding.weight  # tie_weights()

    def forward(self, ids):  # (B, L) → final hidden (B, L, D), logits (B, L, V), per-layer mixer outputs
        hidden = self.backbone.embedding(ids)
        residual = None
        mixer_outs = []
        for layer in self.backbone.layers:
            residual = hidden if residual is None else hidden + residual
            hidden = layer.mixer(layer.norm(residual))
            mixer_outs.append(hidden)
        hidden = self.backbone.norm_f(hidden + residual)
        return hidden, self.lm_head(hidden), mixer_outs

    def forward_recurrent(self, ids):
        Bsz, L = ids.shape
        dm = self.dm
        convs = [torch.zeros(Bsz, dm["ED"], dm["K"], dtype=self.lm_head.weight.dtype) for _ in self.backbone.layers]
        ssms = [torch.zeros(Bsz, dm["ED"], dm["N"], dtype=self.lm_head.weight.dtype) for _ in self.backbone.layers]
        outs = []
        for t in range(L):
            hidden = self.backbone.embedding(ids[:, t])
            residual = None
            for i, layer in enumerate(self.backbone.layers):
                residual = hidden if residual is None else hidden + residual
                hidden, convs[i], ssms[i] = layer.mixer.step(layer.norm(residual), convs[i], ssms[i])
            outs.append(self.lm_head(self.backbone.norm_f(hidden + residual)))
        return torch.stack(outs, dim=1)


def randomize(model, seed):
    """Varied weights (not mamba_ssm's near-identity init) so every parameter moves the outputs."""
    g = torch.Generator().manual_seed(seed)
    dm = model.dm

    def u(shape, bound):
        return (torch.rand(shape, generator=g) * 2 - 1) * bound

    with torch.no_grad():
        bb = model.backbone
        bb.embedding.weight.copy_(0.5 * torch.randn(bb.embedding.weight.shape, generator=g))
        for layer in bb.layers:
            m = layer.mixer
            layer.norm.weight.copy_(1 + 0.2 * torch.randn(dm["D"], generator=g))
            m.in_proj.weight.copy_(u(m.in_proj.weight.shape, 1 / math.sqrt(dm["D"])))
            m.conv1d.weight.copy_(u(m.conv1d.weight.shape, 0.5))
            m.conv1d.bias.copy_(u(m.conv1d.bias.shape, 0.5))
            m.x_proj.weight.copy_(u(m.x_proj.weight.shape, 1 / math.sqrt(dm["ED"])))
            m.dt_proj.weight.copy_(u(m.dt_proj.weight.shape, dm["R"] ** -0.5))
            dt = torch.exp(torch.rand(dm["ED"], generator=g) * (math.log(1.0) - math.log(0.01)) + math.log(0.01))
            m.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
            m.A_log.copy_(torch.log(0.5 + 7.5 * torch.rand(dm["ED"], dm["N"], generator=g)))
            m.D.copy_(1 + 0.5 * torch.randn(dm["ED"], generator=g))
            m.out_proj.weight.copy_(u(m.out_proj.weight.shape, 1 / math.sqrt(dm["ED"])))
        bb.norm_f.weight.copy_(1 + 0.2 * torch.randn(dm["D"], generator=g))


def state_dict_for_file(model):
    """The tensors we store: state_dict minus the tied duplicate lm_head.weight (safetensors convention)."""
    return {k: v.detach().to(torch.float32).numpy() for k, v in model.state_dict().items() if k != "lm_head.weight"}


def read_region(path, name, start, end):
    seq, cur = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith(">"):
                cur = line[1:].split()[0]
                continue
            if cur == name:
                seq.append(line)
    s = "".join(seq).upper()
    if not s:
        sys.exit(f"{path}: sequence {name} not found")
    return s[start:end]


def make_golden():
    torch.manual_seed(0)
    model = MambaLM(TINY)
    randomize(model, seed=1234)
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "config.json"), "w") as f:
        json.dump(TINY, f, indent=2)
        f.write("\n")
    tensors = state_dict_for_file(model)
    write_safetensors(os.path.join(OUT_DIR, "model.safetensors"), tensors, {"format": "pt"})

    # reload what we wrote (float32 on disk) and compute in float64 from exactly those values
    _, back = read_safetensors(os.path.join(OUT_DIR, "model.safetensors"))
    ref = MambaLM(TINY).double()
    missing, unexpected = ref.load_state_dict({k: torch.from_numpy(v) for k, v in back.items()}, strict=False)
    assert list(missing) == ["lm_head.weight"] and not unexpected, (missing, unexpected)

    name, start, end = REGION
    bases = read_region(FASTA, name, start, end)
    tokens = [TOKEN_IDS[b] for b in bases]
    ids = torch.tensor([tokens])
    with torch.no_grad():
        hidden, logits, mixer_outs = ref(ids)
        rec = ref.forward_recurrent(ids)
        nll = F.cross_entropy(logits[0, :-1], ids[0, 1:], reduction="none")
        # the same model in float32 (what a float32 implementation should land near)
        ref32 = MambaLM(TINY)
        ref32.load_state_dict({k: torch.from_numpy(v) for k, v in back.items()}, strict=False)
        _, logits32, _ = ref32(ids)
    step_diff = (rec - logits).abs().max().item()
    f32_diff = (logits32.double() - logits).abs().max().item()
    assert step_diff < 1e-10, f"recurrent step != full forward: {step_diff}"

    expected = {
        "about": "golden outputs of scripts/golden/make_golden.py (plain-PyTorch Mamba LM, float64 compute from the float32 weights in model.safetensors); do not edit by hand",
        "torch_version": torch.__version__,
        "region": f"{name}:{start}-{end} (0-based half-open) of fixtures/lambda_virus.fa",
        "bases": bases,
        "tokens": tokens,
        "L": len(tokens),
        "D": ref.dm["D"],
        "V": ref.dm["V"],
        "hidden": hidden[0].tolist(),  # (L, D) after norm_f
        "logits": logits[0].tolist(),  # (L, V)
        "mixer_outputs": [m[0].tolist() for m in mixer_outs],  # n_layer × (L, D), before the residual add
        "nll": nll.tolist(),  # (L-1): position t predicts token t+1
        "loss": nll.mean().item(),
        "max_abs_diff_recurrent_vs_full": step_diff,
        "max_abs_diff_float32_vs_float64_logits": f32_diff,
        "parameter_count_default_config": sum(p.numel() for p in MambaLM(DEFAULT).parameters()),
        "parameter_count_tiny_config": sum(p.numel() for p in ref.parameters()),
    }
    with open(os.path.join(OUT_DIR, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT_DIR}: L={len(tokens)} loss={expected['loss']:.6f} "
          f"recurrent-vs-full {step_diff:.2e} f32-vs-f64 {f32_diff:.2e} "
          f"params tiny={expected['parameter_count_tiny_config']} default={expected['parameter_count_default_config']}")


def check_checkpoint(path):
    """Load a checkpoint directory written by mamba-dna (TypeScript) into the PyTorch model."""
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    metadata, tensors = read_safetensors(os.path.join(path, "model.safetensors"))
    with open(os.path.join(path, "model.safetensors"), "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
    assert (8 + n) % 8 == 0, "data buffer not 8-byte aligned"
    assert metadata.get("format") == "pt", metadata
    model = MambaLM(cfg)
    sd = model.state_dict()
    for k, v in tensors.items():
        assert k in sd, f"unexpected tensor {k}"
        assert tuple(v.shape) == tuple(sd[k].shape), f"{k}: {v.shape} vs {tuple(sd[k].shape)}"
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
    assert list(missing) == ["lm_head.weight"] and not unexpected, (missing, unexpected)
    assert model.lm_head.weight.data_ptr() == model.backbone.embedding.weight.data_ptr()
    for k, v in tensors.items():
        assert torch.equal(model.state_dict()[k], torch.from_numpy(v)), k
    n_params = sum(p.numel() for p in model.parameters())
    m0 = model.backbone.layers[0].mixer
    A_log_ok = torch.allclose(m0.A_log, torch.log(torch.arange(1, m0.N + 1, dtype=torch.float32)).expand_as(m0.A_log))
    dt = F.softplus(m0.dt_proj.bias)
    ids = torch.tensor([[TOKEN_IDS[b] for b in "ACGTACGTNNACGT"]])
    with torch.no_grad():
        _, logits, _ = model(ids)
    finite = bool(torch.isfinite(logits).all())
    print(f"{path}: PyTorch load_state_dict(strict=False) OK: {len(tensors)} tensors, missing only the tied lm_head.weight; "
          f"parameters {n_params}; A_log = log(1..N): {A_log_ok}; softplus(dt_bias) in [{dt.min():.2e}, {dt.max():.2e}]; "
          f"forward finite: {finite}; metadata keys {sorted(metadata)}")
    assert A_log_ok and finite


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-checkpoint", metavar="DIR", help="load a mamba-dna checkpoint directory into the PyTorch model")
    args = ap.parse_args()
    if args.check_checkpoint:
        check_checkpoint(args.check_checkpoint)
    else:
        make_golden()
