"""PyTorch side of bench/movement.ts: a DLRM with full tables, trained on exactly the rows,
row order, initial weights and hyperparameters that our full run used, then the same
per-frequency-band embedding movement figures.

    node dist/bench/movement.js --export DIR ...      # writes DIR (meta.json + raw arrays)
    python3 bench/torch_dlrm_movement.py --data DIR [--threads 1] [--out FILE.jsonl]

The model is facebookresearch/dlrm's dot-interaction DLRM as model/dlrm.ts builds it:
bottom MLP with ReLU after every layer, one embedding row per (feature, value) looked up
through per-feature offsets into one table, the lower triangle (j < i) of the Gram
matrix of [x, e_1..e_26], top MLP with ReLU except the last layer, mean binary
cross-entropy. Dense weights take plain SGD; the tables SGD or torch.optim.Adagrad
(accumulator from 0, eps 1e-10), with sparse gradients as DLRM uses them. Nothing is
drawn at random here: every weight comes from DIR.

Prints JSON lines: one 'run' (test AUC, logloss, whole-table RMS), one 'band' per
frequency band (as bench/movement.ts prints them), the same bands recomputed here from
our final tables ('ours-recomputed', a check of the TypeScript figures), and one
'agreement' per band: RMS of (our final - torch final) against torch's RMS movement.
"""
import argparse
import json
import os
import time
import warnings

import numpy as np
import torch


def load(data, meta, key, dtype, shape):
    return np.fromfile(os.path.join(data, meta["files"][key]), dtype=dtype).reshape(shape)


def band_label(i, edges):
    return f"{edges[i]}-{edges[i + 1] - 1}" if i + 1 < len(edges) else f">={edges[i]}"


def band_of(counts, edges):
    """Band index per row (-1 below the first edge)."""
    b = np.full(counts.shape, -1, dtype=np.int64)
    for i, e in enumerate(edges):
        b[counts >= e] = i
    return b


def movement_bands(init, final, counts, edges):
    """RMS of initial values and of movement over every element of each band's rows."""
    bands = band_of(counts, edges)
    out = []
    for i in range(len(edges)):
        rows = bands == i
        a = init[rows].astype(np.float64)
        m = final[rows].astype(np.float64) - a
        n = a.size
        rms_init = float(np.sqrt((a * a).sum() / n)) if n else float("nan")
        rms_move = float(np.sqrt((m * m).sum() / n)) if n else float("nan")
        out.append({"band": band_label(i, edges), "values": int(rows.sum()), "occurrences": int(counts[rows].sum()),
                    "rmsInit": rms_init, "rmsMove": rms_move, "ratio": rms_move / rms_init if n else float("nan")})
    return out


def exact_auc(y, p):
    """AUC with ties counted half: the Mann-Whitney statistic from average ranks."""
    order = np.argsort(p, kind="mergesort")
    ps = p[order]
    ranks = np.empty(len(p), dtype=np.float64)
    i = 0
    while i < len(ps):
        j = i
        while j + 1 < len(ps) and ps[j + 1] == ps[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = y > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class Dlrm(torch.nn.Module):
    def __init__(self, meta, data):
        super().__init__()
        d = meta["d"]
        dense = [torch.from_numpy(np.fromfile(os.path.join(data, a["file"]), dtype="<f4").reshape(a["shape"])) for a in meta["dense"]]
        nb = len(meta["bottom"]) - 1
        self.bottom = torch.nn.ModuleList()
        self.top = torch.nn.ModuleList()
        for i in range(len(dense) // 2):
            w, b = dense[2 * i], dense[2 * i + 1]
            lin = torch.nn.Linear(w.shape[0], w.shape[1])
            with torch.no_grad():
                lin.weight.copy_(w.T)  # ours is [in, out] (x @ w); torch's [out, in]
                lin.bias.copy_(b)
            (self.bottom if i < nb else self.top).append(lin)
        rows = meta["tableRows"]
        self.register_buffer("offsets", torch.tensor(np.concatenate([[0], np.cumsum(rows)[:-1]]), dtype=torch.int64))
        init = load(data, meta, "embeddingInit", "<f4", (sum(rows), d))
        self.emb = torch.nn.Embedding(sum(rows), d, sparse=True)
        with torch.no_grad():
            self.emb.weight.copy_(torch.from_numpy(init))
        n = 27
        self.register_buffer("li", torch.tensor([i for i in range(n) for j in range(i)]))
        self.register_buffer("lj", torch.tensor([j for i in range(n) for j in range(i)]))

    def forward(self, dense, idx):
        x = dense
        for lin in self.bottom:
            x = torch.relu(lin(x))
        e = self.emb(idx + self.offsets)  # [B, 26, d]
        t = torch.cat([x.unsqueeze(1), e], 1)
        z = torch.bmm(t, t.transpose(1, 2))[:, self.li, self.lj]
        z = torch.cat([x, z], 1)
        for k, lin in enumerate(self.top):
            z = lin(z)
            if k + 1 < len(self.top):
                z = torch.relu(z)
        return z.squeeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    # torch.optim.Adagrad's sparse path warns once per run about unchecked sparse invariants.
    warnings.filterwarnings("ignore", message="Sparse invariant checks")
    meta = json.load(open(os.path.join(a.data, "meta.json")))
    d, n, nt, edges = meta["d"], meta["rows"], meta["testRows"], meta["bandEdges"]
    dense = torch.from_numpy(load(a.data, meta, "trainDense", "<f4", (n, 13)))
    idx = torch.from_numpy(load(a.data, meta, "trainIdx", "<i4", (n, 26)).astype(np.int64))
    label = torch.from_numpy(load(a.data, meta, "trainLabel", "<f4", (n,)))
    model = Dlrm(meta, a.data)
    init = model.emb.weight.detach().numpy().copy()
    dense_opt = torch.optim.SGD([p for m in (model.bottom, model.top) for p in m.parameters()], lr=meta["lr"])
    if meta["optimizer"] == "adagrad":
        emb_opt = torch.optim.Adagrad(model.emb.parameters(), lr=meta["lr"], eps=1e-10, initial_accumulator_value=0)
    else:
        emb_opt = torch.optim.SGD(model.emb.parameters(), lr=meta["lr"])
    loss_fn = torch.nn.BCEWithLogitsLoss()
    t0 = time.time()
    steps = 0
    for e in range(meta["epochs"]):
        order = torch.from_numpy(np.fromfile(os.path.join(a.data, meta["files"]["orders"][e]), dtype="<u4").astype(np.int64))
        for s in range(0, n, meta["batch"]):
            r = order[s:s + meta["batch"]]
            loss = loss_fn(model(dense[r], idx[r]), label[r])
            dense_opt.zero_grad()
            emb_opt.zero_grad()
            loss.backward()
            dense_opt.step()
            emb_opt.step()
            steps += 1
    seconds = time.time() - t0
    with torch.no_grad():
        td = torch.from_numpy(load(a.data, meta, "testDense", "<f4", (nt, 13)))
        ti = torch.from_numpy(load(a.data, meta, "testIdx", "<i4", (nt, 26)).astype(np.int64))
        ty = load(a.data, meta, "testLabel", "<f4", (nt,)).astype(np.float64)
        p = torch.cat([torch.sigmoid(model(td[s:s + 4096], ti[s:s + 4096])) for s in range(0, nt, 4096)]).double().numpy()
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    logloss = float(-(ty * np.log(pc) + (1 - ty) * np.log(1 - pc)).mean())
    final = model.emb.weight.detach().numpy()
    ours = np.fromfile(os.path.join(a.data, meta["files"]["embeddingOursFinal"]), dtype="<f4").reshape(final.shape)
    # Training rows per table row: the frequency the bands are made of.
    counts = np.bincount((idx + model.offsets).reshape(-1).numpy(), minlength=final.shape[0])
    out = open(a.out, "w") if a.out else None

    def emit(obj):
        line = json.dumps(obj)
        print(line, flush=True)
        if out:
            out.write(line + "\n")

    ident = {"kind": "full", "compression": None, "optimizer": meta["optimizer"], "lr": meta["lr"], "epochs": meta["epochs"], "batch": meta["batch"]}
    rms = lambda x: float(np.sqrt((x.astype(np.float64) ** 2).mean()))
    emit({"type": "run", "impl": "torch", **ident, "auc": exact_auc(ty, p), "logloss": logloss, "memoryFloats": int(final.size),
          "memoryRmsInit": rms(init), "memoryRmsMove": rms(final - init), "steps": steps, "seconds": seconds,
          "torch": torch.__version__, "threads": a.threads})
    for b in movement_bands(init, final, counts, edges):
        emit({"type": "band", "impl": "torch", **ident, **b})
    for b in movement_bands(init, ours, counts, edges):
        emit({"type": "band", "impl": "ours-recomputed", **ident, **b})
    bands = band_of(counts, edges)
    for i in range(len(edges)):
        rows = bands == i
        if not rows.any():
            continue
        tm = (final[rows] - init[rows]).astype(np.float64)
        om = (ours[rows] - init[rows]).astype(np.float64)
        # Per-value movement length, ours against torch: do the same values move as far?
        tn, on = np.linalg.norm(tm, axis=1), np.linalg.norm(om, axis=1)
        corr = float(np.corrcoef(tn, on)[0, 1]) if rows.sum() > 1 else float("nan")
        cos = float((tm * om).sum() / (np.linalg.norm(tm) * np.linalg.norm(om)))
        emit({"type": "agreement", **ident, "band": band_label(i, edges), "values": int(rows.sum()),
              "rmsDiff": rms(ours[rows] - final[rows]), "rmsMoveTorch": rms(tm), "rmsMoveOurs": rms(om),
              "relativeDiff": rms(ours[rows] - final[rows]) / rms(tm), "cosineOfMoves": cos, "corrOfMoveLengths": corr})


if __name__ == "__main__":
    main()
