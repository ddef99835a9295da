"""Numpy references for Keras 3 files of Dense layers: .keras archives (config.json and
model.weights.h5 read with zipfile and h5py) and bare .weights.h5 files (the activations given,
as their architecture is not in the file). Written from Keras 3's semantics: saving_lib keeps a
Sequential's layers at layers/<snake_case class>[_<n>]/vars/<i> (Dense: 0 kernel (inputs, units),
1 bias), optimizer/vars/0 the iteration count, then the learning rate when it is a variable (a
scalar), then per trainable weight Adam's momentum and velocity. Never from plugfit's code.

  keras3_reference.py predict FILE X.npy PRED.npy [ACTS]   -- exit 1 unless PRED is within 1e-5
  keras3_reference.py loss FILE X.npy Y.npy LOSS          -- exit 1 unless LOSS is numpy's within 1e-5
  keras3_reference.py step FILE X.npy Y.npy PRED.npy       -- exit 1 unless PRED (after one
      full-batch step resumed from FILE) is within 1e-5 of one Keras 3 Adam step
  keras3_reference.py run FILE X.npy Y.npy OUT.json [step] -- writes X/Y and a run file of the same
      architecture (SGD, learning rate 0; with "step": the file's optimizer and loss, one
      full-batch step)
ACTS: comma-separated activations, one per Dense layer, for a .weights.h5 file.
"""
import io, json, re, sys, zipfile
import h5py, numpy as np

ACT = {"linear": lambda x: x, "relu": lambda x: np.maximum(x, 0), "sigmoid": lambda x: 1 / (1 + np.exp(-x))}
DACT = {"linear": lambda y: 1.0, "relu": lambda y: (y > 0).astype(np.float64), "sigmoid": lambda y: y * (1 - y)}

def snake(name):
    return re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)).lower()

def open_file(path, acts):
    """(h5 file, [(class, activation)], compile config or None)"""
    if zipfile.is_zipfile(path):
        z = zipfile.ZipFile(path)
        config = json.loads(z.read("config.json"))
        f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
        layers = [(l["class_name"], l["config"].get("activation")) for l in config["config"]["layers"]
                  if l["class_name"] != "InputLayer"]
        return f, layers, config.get("compile_config")
    f = h5py.File(path, "r")
    return f, [("Dense", a) for a in acts.split(",")], None

def dense_weights(f, layers):
    used, out = {}, []
    for cls, _ in layers:
        name = snake(cls)
        used[name] = used.get(name, -1) + 1
        group = f["layers"][name if used[name] == 0 else "%s_%d" % (name, used[name])]["vars"]
        if cls == "Dense":
            out.append([np.asarray(group[str(i)], dtype=np.float64) for i in range(len(group))])
    return out

def forward(layers, weights, x):
    keep, it = [], iter(weights)
    for cls, act in layers:
        if cls == "Dense":
            k, b = next(it)
            keep.append((x, act))
            x = ACT[act](x @ k + b)
    return x, keep

mode, path = sys.argv[1], sys.argv[2]
acts = sys.argv[5] if mode == "predict" and len(sys.argv) > 5 else "relu,relu,sigmoid"
f, layers, compile_config = open_file(path, acts)
weights = dense_weights(f, layers)
if mode == "predict":
    x, p = np.load(sys.argv[3]).astype(np.float64), np.load(sys.argv[4])
    ref = forward(layers, weights, x)[0]
    d = float(np.abs(p - ref).max())
    print(path, "largest difference from numpy:", d)
    sys.exit(0 if p.shape == ref.shape and d <= 1e-5 else 1)
elif mode == "loss":
    x, y = np.load(sys.argv[3]).astype(np.float64), np.load(sys.argv[4]).astype(np.float64).reshape(-1, 1)
    p = np.clip(forward(layers, weights, x)[0], 1e-7, 1 - 1e-7)
    ref = float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
    print(path, "numpy loss", ref, "plugfit", sys.argv[5])
    sys.exit(0 if abs(ref - float(sys.argv[5])) <= 1e-5 else 1)
elif mode == "step":
    x, y = np.load(sys.argv[3]).astype(np.float64), np.load(sys.argv[4]).astype(np.float64).reshape(-1, 1)
    opt = compile_config["optimizer"]["config"]
    v = f["optimizer"]["vars"]
    step = int(v["0"][()])
    first = 2 if v["1"].shape == () else 1
    lr = float(v["1"][()]) if first == 2 else float(np.float32(opt["learning_rate"]))
    params = [w for pair in weights for w in pair]
    slots = [np.asarray(v[str(i)], dtype=np.float64) for i in range(first, len(v))]
    h, keep = forward(layers, weights, x)
    p = np.clip(h, 1e-7, 1 - 1e-7)
    dp = (p - y) / (p * (1 - p)) / (x.shape[0] * y.shape[1])  # binary cross-entropy, mean
    grads, outs = [], []
    hh = x
    for (inp, act), (k, b) in zip(keep, weights):
        hh = ACT[act](inp @ k + b); outs.append(hh)
    for i in reversed(range(len(keep))):
        inp, act = keep[i]
        dz = dp * DACT[act](outs[i])
        grads = [inp.T @ dz, dz.sum(0)] + grads
        dp = dz @ weights[i][0].T
    t, b1, b2, eps = step + 1, opt["beta_1"], opt["beta_2"], opt["epsilon"]
    new = []
    for j, (w, g) in enumerate(zip(params, grads)):
        m = slots[2 * j] + (g - slots[2 * j]) * (1 - b1)        # momentum
        vv = slots[2 * j + 1] + (g * g - slots[2 * j + 1]) * (1 - b2)  # velocity
        new.append(w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(vv) + eps))
    ref = forward(layers, [new[i:i + 2] for i in range(0, len(new), 2)], x)[0]
    got = np.load(sys.argv[5])
    d, moved = float(np.abs(got - ref).max()), float(np.abs(got - h).max())
    print(path, "one Keras 3 Adam step at", step, ": largest difference from numpy", d, "(the step moved predictions by", moved, ")")
    sys.exit(0 if got.shape == ref.shape and d <= 1e-5 and moved > 10 * d else 1)
elif mode == "run":
    inputs = weights[0][0].shape[0]
    x = np.random.default_rng(5).normal(size=(64, inputs)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    np.save(sys.argv[3], x); np.save(sys.argv[4], y)
    model, it = [{"class_name": "InputLayer", "config": {"batch_shape": [None, inputs]}}], iter(weights)
    for cls, act in layers:
        if cls == "Dense":
            model.append({"class_name": "Dense", "config": {"units": int(next(it)[0].shape[1]), "activation": act}})
        else:
            model.append({"class_name": "Dropout", "config": {"rate": 0.0}})
    run = {"model": {"layers": model}, "data": {"train": "npy:%s,%s" % (sys.argv[3], sys.argv[4])},
           "compile": {"optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.0}}, "loss": "binary_crossentropy"},
           "fit": {"epochs": 1, "batch_size": 32, "seed": 1, "verbose": 1}}
    if len(sys.argv) > 6:
        run["compile"] = {"optimizer": compile_config["optimizer"]["class_name"].lower(), "loss": compile_config["loss"]}
        run["fit"].update({"batch_size": 64, "shuffle": False})
    json.dump(run, open(sys.argv[5], "w"))
