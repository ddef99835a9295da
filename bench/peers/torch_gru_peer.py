#!/usr/bin/python3
"""GRU peer: ../shared/bench/torch_peer.py --model lstm with the LSTM swapped for a GRU (that peer
is shared and read-only, so the GRU lives here). Fashion-MNIST's 28 image rows as 28 time steps
of 28 features: GRU(hidden) -> Dense(10) on the last step, Adam lr 1e-3, softmax cross-entropy;
the same data, order, loop and JSON line as torch_peer.py.
PyTorch's GRU applies the reset gate after the recurrent matrix product,
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), which is Keras 3's default GRU (reset_after=True,
two bias vectors), so both sides train the same cell.
Usage: torch_gru_peer.py [--batch 32] [--epochs 1] [--hidden 128] [--threads 2]"""
import argparse, gzip, json, time
import numpy as np, torch

D = "/usr/share/datasets/fashion-mnist/"
def idx(path):
    with gzip.open(D + path) as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)

ap = argparse.ArgumentParser()
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--hidden", type=int, default=128)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
xtr = torch.from_numpy(idx("train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255)
ytr = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
xte = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255)
yte = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
class LastStep(torch.nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.gru = torch.nn.GRU(28, hidden, batch_first=True)
        self.out = torch.nn.Linear(hidden, 10)
    def forward(self, x):
        h, _ = self.gru(x.view(-1, 28, 28))
        return self.out(h[:, -1])
model = LastStep(a.hidden)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
lossf = torch.nn.CrossEntropyLoss()
n = xtr.shape[0]
t0 = time.perf_counter()
for ep in range(a.epochs):
    perm = torch.randperm(n)
    for i in range(0, n, a.batch):
        idxs = perm[i:i + a.batch]
        xb, yb = xtr[idxs], ytr[idxs]
        opt.zero_grad()
        loss = lossf(model(xb), yb)
        loss.backward()
        opt.step()
dt = time.perf_counter() - t0
with torch.no_grad():
    acc = (model(xte).argmax(1) == yte).float().mean().item()
print(json.dumps({"peer": "pytorch " + torch.__version__, "model": "gru", "batch": a.batch, "epochs": a.epochs,
                  "samples_per_s": round(n * a.epochs / dt), "s_per_epoch": round(dt / a.epochs, 3),
                  "test_accuracy": round(acc, 4)}))
