"""PyTorch reference for bench/gpu-step.ts: the same DLRM shapes, batch, embedding
memory sizes, Zipf-skewed ids and plain SGD, timed per step on the GPU.

    python3 bench/torch_dlrm_step.py [--steps 20] [--warmup 3] [--batch 2048]
        [--shapes kaggle,large] [--kinds full,hashnet,scma] [--memory-floats 16777216]
        [--max-rows 200000] [--threads N] [--sparse]

--threads N (CPU runs): torch.set_num_threads(N); the line records it, so
bench/gpu-step.ts --torch can give a ratio per thread count (bench/cpu-step.sh).

Prints one JSON line per configuration. HashNet/SCMA read one shared 1-D array of
M floats at locations (code mod M) computed on the GPU from (feature, id, j); full
tables are one concatenated [rows, d] table with per-feature offsets. Gradients are
dense (autograd of indexing), as in the SCMA reference code; --sparse makes them
sparse (F.embedding(sparse=True), SGD on the touched rows only), which on a CPU is
the fair peer of our sparse update: the dense form steps all M floats every step.
"""
import argparse
import json
import math
import time

import torch

KAGGLE_COUNTS = [1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27, 14992,
                 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572]
SHAPES = {
    "kaggle": (16, [13, 512, 256, 64, 16], [512, 256, 1]),
    "large": (128, [13, 512, 256, 128], [1024, 1024, 512, 256, 1]),
    "tiny": (4, [13, 8, 4], [8, 1]),
}


def mlp(sizes, last_sigmoid):
    layers = []
    for i in range(len(sizes) - 1):
        n, m = sizes[i], sizes[i + 1]
        lin = torch.nn.Linear(n, m)
        with torch.no_grad():
            lin.weight.normal_(0, math.sqrt(2 / (m + n)))
            lin.bias.normal_(0, math.sqrt(1 / m))
        layers.append(lin)
        layers.append(torch.nn.Sigmoid() if (last_sigmoid and i == len(sizes) - 2) else torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class Dlrm(torch.nn.Module):
    def __init__(self, d, bottom, top, kind, counts, memory_floats, sparse=False):
        super().__init__()
        self.d, self.kind, self.sparse = d, kind, sparse
        self.bot = mlp(bottom, False)
        self.top = mlp([d + 351] + top, True)
        if kind == "full":
            rows = sum(counts)
            self.offsets = torch.tensor([0] + list(torch.tensor(counts).cumsum(0)[:-1].tolist()), dtype=torch.int64)
            self.memory = torch.nn.Parameter(torch.empty(rows, d).uniform_(-math.sqrt(1 / max(counts)), math.sqrt(1 / max(counts))))
        else:
            self.m = memory_floats
            # --sparse: [M, 1] rows for F.embedding's sparse gradient (same M floats).
            shape = (memory_floats, 1) if sparse else (memory_floats,)
            self.memory = torch.nn.Parameter(torch.empty(shape).uniform_(-math.sqrt(1 / max(counts)), math.sqrt(1 / max(counts))))
        li = [i for i in range(27) for j in range(i)]
        lj = [j for i in range(27) for j in range(i)]
        self.register_buffer("li", torch.tensor(li))
        self.register_buffer("lj", torch.tensor(lj))
        self.register_buffer("jj", torch.arange(d, dtype=torch.int64))
        self.register_buffer("ff", torch.arange(26, dtype=torch.int64))

    def embed(self, cats):
        b = cats.shape[0]
        if self.kind == "full":
            idx = (cats + self.offsets.to(cats.device)).reshape(-1)
            if self.sparse:
                return torch.nn.functional.embedding(idx, self.memory, sparse=True).reshape(b, 26, self.d)
            return self.memory[idx].reshape(b, 26, self.d)
        # A multiplicative hash of (feature, id, j) on the GPU, then mod M.
        key = (cats[:, :, None] * 0x9E3779B1 + self.ff[None, :, None] * 0x85EBCA77 + self.jj[None, None, :] * 0xC2B2AE3D)
        key = (key ^ (key >> 15)) & 0x7FFFFFFF
        if self.sparse:
            return torch.nn.functional.embedding((key % self.m).reshape(-1), self.memory, sparse=True).reshape(b, 26, self.d)
        return self.memory[key % self.m]

    def forward(self, dense, cats):
        x = self.bot(dense)
        t = torch.cat([x[:, None, :], self.embed(cats)], dim=1)
        z = torch.bmm(t, t.transpose(1, 2))
        r = torch.cat([x, z[:, self.li, self.lj]], dim=1)
        return self.top(r).squeeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--shapes", default="kaggle,large")
    ap.add_argument("--kinds", default="full,hashnet,scma")
    ap.add_argument("--memory-floats", type=int, default=16 * 1024 * 1024)
    ap.add_argument("--max-rows", type=int, default=200000)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--sparse", action="store_true", help="sparse embedding gradients (F.embedding sparse=True), PyTorch's fast path for big tables")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(1)
    counts = [min(n, a.max_rows) for n in KAGGLE_COUNTS]
    nb = min(8, a.warmup + a.steps)
    # Zipf-like ids: P(id = k) ~ 1/(k+1), capped per feature.
    batches = []
    for _ in range(nb):
        u = torch.rand(a.batch, 26)
        cnt = torch.tensor(counts, dtype=torch.float64)
        ids = torch.minimum(torch.floor(torch.exp(u.double() * torch.log(cnt + 1))) - 1, cnt - 1).long()
        dense = torch.log1p(torch.floor(-torch.log(1 - torch.rand(a.batch, 13)) * 10))
        label = (torch.rand(a.batch) < 0.25).float()
        batches.append((dense.to(dev), ids.to(dev), label.to(dev)))
    for shape in a.shapes.split(","):
        d, bottom, top = SHAPES[shape]
        for kind in a.kinds.split(","):
            model = Dlrm(d, bottom, top, kind, counts, a.memory_floats, a.sparse).to(dev)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            lossf = torch.nn.BCELoss()

            def step(i):
                dense, ids, label = batches[i % nb]
                opt.zero_grad(set_to_none=True)
                loss = lossf(model(dense, ids), label)
                loss.backward()
                opt.step()
                return loss

            for i in range(a.warmup):
                step(i)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            c0 = time.process_time()
            for i in range(a.steps):
                last = step(a.warmup + i).item()  # syncs every step, as trainStep reads its loss
            ms = (time.perf_counter() - t0) * 1000 / a.steps
            # CPU time of all threads per step: far below ms x threads means shared cores.
            cpu_ms = (time.process_time() - c0) * 1000 / a.steps
            print(json.dumps({
                "backend": "torch-" + dev.type, "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu",
                "torch": torch.__version__, "shape": shape, "d": d, "kind": kind, "batch": a.batch,
                "threads": torch.get_num_threads(), "sparse": a.sparse, "memory_floats": model.memory.numel(), "steps": a.steps, "ms_per_step": round(ms, 2), "cpu_ms_per_step": round(cpu_ms, 2),
                "samples_per_s": round(a.batch * 1000 / ms), "loss": round(last, 4),
            }), flush=True)
            del model, opt
            if dev.type == "cuda":
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
