"""Numpy references for Dense-only Keras .h5 files of every era, written from Keras's semantics
(Dense: x @ kernel + bias, kernel (inputs, units); Dropout: identity at inference), reading the
file's own model_config and model_weights with h5py. Never from plugfit's code.

  keras_dense_reference.py predict FILE X.npy PRED.npy [TOL]  -- exit 1 unless PRED is within TOL
      (1e-5 unless given)
  keras_dense_reference.py run FILE X.npy Y.npy OUT.json -- writes X/Y and a plugfit run file
      (same architecture, SGD with learning rate 0, so a resumed epoch keeps the file's weights)
"""
import json, sys
import h5py, numpy as np

ACTIVATIONS = {
    "linear": lambda x: x, None: lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "softmax": lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True),
}

def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)

def activation(config):
    a = config.get("activation")
    if isinstance(a, dict):  # Keras 3 serializes {"class_name": "function", "config": "relu"}
        a = a["config"] if isinstance(a.get("config"), str) else a["class_name"]
    return a

def layers(f):
    config = json.loads(text(f.attrs["model_config"]))["config"]
    specs = config if isinstance(config, list) else config["layers"]  # Keras <= 2.2: a bare list
    return [(s["class_name"], s["config"]) for s in specs if s["class_name"] != "InputLayer"]

def dense_weights(f):
    g = f["model_weights"] if "model_weights" in f else f
    out = []
    for name in (text(n) for n in g.attrs["layer_names"]):
        names = [text(w) for w in g[name].attrs["weight_names"]]
        if names:
            out.append([np.asarray(g[name][w], dtype=np.float64) for w in names])
    return out

def predict(f, x):
    weights = iter(dense_weights(f))
    for cls, config in layers(f):
        if cls == "Dense":
            kernel, bias = next(weights)
            x = ACTIVATIONS[activation(config)](x @ kernel + bias)
        elif cls == "Activation":
            x = ACTIVATIONS[activation(config)](x)
        elif cls != "Dropout":
            raise SystemExit("not a Dense-only model: " + cls)
    return x

mode, path = sys.argv[1], sys.argv[2]
f = h5py.File(path, "r")
if mode == "predict":
    x = np.load(sys.argv[3]).astype(np.float64)
    p = np.load(sys.argv[4])
    ref = predict(f, x)
    d = float(np.abs(p - ref).max())
    print(path, "largest difference from numpy:", d)
    tolerance = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-5
    sys.exit(0 if p.shape == ref.shape and d <= tolerance else 1)
elif mode == "run":
    kernels = [w[0] for w in dense_weights(f)]
    x = np.random.default_rng(3).normal(size=(64, kernels[0].shape[0])).astype(np.float32)
    units = kernels[-1].shape[1]
    y = np.eye(units, dtype=np.float32)[np.arange(64) % units] if units > 1 else (x[:, :1] > 0).astype(np.float32)
    np.save(sys.argv[3], x); np.save(sys.argv[4], y)
    model, k = [], iter(kernels)
    for cls, config in layers(f):
        if cls == "Dense":
            model.append({"class_name": "Dense", "config": {"units": int(next(k).shape[1]), "activation": activation(config) or "linear"}})
        elif cls == "Activation":
            model.append({"class_name": "Activation", "config": {"activation": activation(config)}})
        else:
            model.append({"class_name": "Dropout", "config": {"rate": 0.5}})
    model.insert(0, {"class_name": "InputLayer", "config": {"batch_shape": [None, int(kernels[0].shape[0])]}})
    run = {"model": {"layers": model}, "data": {"train": "npy:%s,%s" % (sys.argv[3], sys.argv[4])},
           "compile": {"optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.0}}, "loss": "mse"},
           "fit": {"epochs": 1, "batch_size": 32, "seed": 1, "verbose": 1}}
    json.dump(run, open(sys.argv[5], "w"))
