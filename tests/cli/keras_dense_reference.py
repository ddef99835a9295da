"""Numpy references for Dense-only Keras .h5 files of every era, written from Keras's semantics
(Dense: x @ kernel + bias, kernel (inputs, units); Dropout: identity at inference), reading the
file's own model_config and model_weights with h5py. Never from plugfit's code.

  keras_dense_reference.py predict FILE X.npy PRED.npy [TOL]  -- exit 1 unless PRED is within TOL
      (1e-5 unless given)
  Any mode takes --model-json M.json: the architecture (Keras's model.to_json()) of a weights-only FILE.
  keras_dense_reference.py evaluate FILE X.npy Y.npy EVAL.json -- exit 1 unless plugfit evaluate
      --json's loss and each metric are within 1e-5 of Keras's formulas on the file's weights
  keras_dense_reference.py step FILE X.npy Y.npy PRED.npy -- exit 1 unless PRED (the model after
      one full-batch step resumed from FILE) is within 1e-5 of one Keras Adam/RMSprop step of the
      file's weights with the file's slots and step count, on the file's loss
  keras_dense_reference.py run FILE X.npy Y.npy OUT.json [step] -- writes X/Y and a plugfit run
      file (same architecture, SGD with learning rate 0, so a resumed epoch keeps the file's
      weights; with "step": the file's optimizer and loss, one full-batch step, Dropout rate 0)
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

MODEL_JSON = None  # --model-json M.json: the architecture of a weights-only FILE (Keras's model.to_json())

def layers(f):
    config = (MODEL_JSON or json.loads(text(f.attrs["model_config"])))["config"]
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

DERIVATIVES = {  # of the activation, from its output y
    "linear": lambda y: 1.0, None: lambda y: 1.0, "relu": lambda y: (y > 0).astype(np.float64),
    "sigmoid": lambda y: y * (1 - y), "tanh": lambda y: 1 - y * y,
}

def slots(f, optimizer, count):
    """The file's optimizer slots in Keras's naming of each era, one list per slot, weight order."""
    g = f["optimizer_weights"]
    names = [text(n) for n in g.attrs["weight_names"]]
    step = next(int(g[n][()]) for n in names if n.split("/")[-1].split(":")[0] in ("iteration", "iterations", "iter"))
    tensors = [(n, np.asarray(g[n], dtype=np.float64)) for n in names if g[n].shape != ()]
    keys = {"adam": ("m", "v"), "rmsprop": ("rms",)}[optimizer]
    out = {k: [] for k in keys}
    for n, t in tensors:
        parts = n.split(":")[0].split("/")
        if len(parts) > 2 and parts[1] in out:               # tf.keras 2.11-2.15: Adam/m/<path>
            out[parts[1]].append(t)
        elif parts[-1] in out:                                # tf.keras 2.4: Adam/<path>/m
            out[parts[-1]].append(t)
        elif parts[-1].endswith(("_momentum", "_velocity")):  # Keras 3: <path>_momentum
            out["m" if parts[-1].endswith("_momentum") else "v"].append(t)
    if not any(out.values()):  # Keras 2.0-2.3: anonymous, by position; (1,) placeholders after
        for i, k in enumerate(keys):
            out[k] = [t for _, t in tensors[i * count:(i + 1) * count]]
    return step, out

def one_step(f, x, y):
    training = json.loads(text(f.attrs["training_config"]))
    optimizer = training["optimizer_config"]["class_name"].split(">")[-1].lower()
    config = training["optimizer_config"]["config"]
    lr = float(np.float32(config.get("learning_rate", config.get("lr"))))
    if "learning_rate" in f.get("optimizer_weights/adam", {}):
        lr = float(f["optimizer_weights/adam/learning_rate"][()])
    params = [w for pair in dense_weights(f) for w in pair]
    step, state = slots(f, optimizer, len(params))
    # Forward, keeping each Dense's input and output.
    acts = [(cls, c) for cls, c in layers(f) if cls == "Dense"]
    inputs, outputs, h = [], [], x
    for (cls, c), (k, b) in zip(acts, dense_weights(f)):
        inputs.append(h)
        h = ACTIVATIONS[activation(c)](h @ k + b)
        outputs.append(h)
    n, p = x.shape[0], np.clip(h, 1e-7, 1 - 1e-7)
    loss = training["loss"]
    if loss in ("mse", "mean_squared_error"):
        dp = 2 * (h - y) / (n * y.shape[1])
    elif loss == "categorical_crossentropy":
        dp = -y / p / n
    else:  # binary_crossentropy, mean over the last axis
        dp = (p - y) / (p * (1 - p)) / (n * y.shape[1])
    grads = []
    for i in reversed(range(len(acts))):
        a, out = activation(acts[i][1]), outputs[i]
        dz = out * (dp - (dp * out).sum(-1, keepdims=True)) if a == "softmax" else dp * DERIVATIVES[a](out)
        grads = [inputs[i].T @ dz, dz.sum(0)] + grads
        dp = dz @ dense_weights(f)[i][0].T
    t = step + 1
    new = []
    for j, (w, gr) in enumerate(zip(params, grads)):
        if optimizer == "adam":  # Keras: bias-corrected learning rate, epsilon outside the sqrt
            b1, b2, eps = config.get("beta_1", 0.9), config.get("beta_2", 0.999), 1e-7
            m = b1 * state["m"][j] + (1 - b1) * gr
            v = b2 * state["v"][j] + (1 - b2) * gr * gr
            new.append(w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps))
        else:  # Keras 2.3's RMSprop
            rho, eps = 0.9, 1e-7
            a = rho * state["rms"][j] + (1 - rho) * gr * gr
            new.append(w - lr * gr / (np.sqrt(a) + eps))
    h = x
    for (cls, c), k, b in zip(acts, new[0::2], new[1::2]):
        h = ACTIVATIONS[activation(c)](h @ k + b)
    return h

if "--model-json" in sys.argv:
    at = sys.argv.index("--model-json")
    MODEL_JSON = json.load(open(sys.argv[at + 1]))
    del sys.argv[at:at + 2]
def keras_loss(name, y, p):
    """Keras's losses on probabilities: clipped to [1e-7, 1 - 1e-7], mean over samples."""
    if isinstance(name, dict):  # Keras 3: {"class_name": "BinaryCrossentropy", "config": {"name": ...}}
        name = name["config"].get("name", name["class_name"])
    q = np.clip(p, 1e-7, 1 - 1e-7)
    if name in ("mse", "mean_squared_error"):
        return float(((p - y) ** 2).mean())
    if name == "categorical_crossentropy":
        q = np.clip(p / p.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
        return float(-(y * np.log(q)).sum(-1).mean())
    if name == "binary_crossentropy":
        return float(-(y * np.log(q) + (1 - y) * np.log(1 - q)).mean(-1).mean())
    raise SystemExit("no reference for the loss " + str(name))

def keras_metrics(training, y, p):
    """Each compiled metric by its log name, with the function Keras resolves it to."""
    out, loss = {}, training["loss"]
    loss = loss["config"].get("name") if isinstance(loss, dict) else loss
    def flat(m):
        return [x for inner in m for x in flat(inner)] if isinstance(m, list) else [m]
    for m in flat(training.get("metrics") or []):
        name, fn = (m["config"]["name"], m["config"]["fn"]) if isinstance(m, dict) else (m, m)
        if fn in ("accuracy", "acc"):  # Keras: binary for one output unit or binary_crossentropy
            fn = "binary_accuracy" if p.shape[-1] == 1 or loss == "binary_crossentropy" else "categorical_accuracy"
        if fn == "binary_accuracy":
            out[name] = float(((p > 0.5) == (y > 0.5)).mean())
        elif fn == "categorical_accuracy":
            out[name] = float((p.argmax(-1) == y.argmax(-1)).mean())
        elif fn in ("mae", "mean_absolute_error"):
            out[name] = float(np.abs(p - y).mean())
        else:
            raise SystemExit("no reference for the metric " + fn)
    return out

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
elif mode == "evaluate":  # evaluate FILE X.npy Y.npy EVAL.json: plugfit evaluate --json within 1e-5
    x, y = np.load(sys.argv[3]).astype(np.float64), np.load(sys.argv[4]).astype(np.float64)
    training = json.loads(text(f.attrs["training_config"]))
    p = predict(f, x)
    ref = dict(keras_metrics(training, y, p), loss=keras_loss(training["loss"], y, p))
    got = json.load(open(sys.argv[5]))
    print(path, "evaluate: numpy", ref, "plugfit", got)
    sys.exit(0 if set(got) == set(ref) and all(abs(got[k] - ref[k]) <= 1e-5 for k in ref) else 1)
elif mode == "step":
    x, y = np.load(sys.argv[3]).astype(np.float64), np.load(sys.argv[4]).astype(np.float64)
    ref, p = one_step(f, x, y), np.load(sys.argv[5])
    d, moved = float(np.abs(p - ref).max()), float(np.abs(p - predict(f, x)).max())
    print(path, "one Keras step: largest difference from numpy", d, "(the step moved predictions by", moved, ")")
    sys.exit(0 if p.shape == ref.shape and d <= 1e-5 and moved > 10 * d else 1)
elif mode == "run":
    kernels = [w[0] for w in dense_weights(f)]
    x = np.random.default_rng(3).normal(size=(64, kernels[0].shape[0])).astype(np.float32)
    if len(sys.argv) > 6:
        # Inputs the model does not saturate on: where Keras clips probabilities (1e-7), eras
        # differ in whether the gradient is cut, and a clipped gradient says nothing of the step.
        probabilities = activation(layers(f)[-1][1]) in ("softmax", "sigmoid")
        while probabilities and not (np.abs(predict(f, x.astype(np.float64)) - 0.5) < 0.5 - 1e-4).all():
            x = (x / 4).astype(np.float32)
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
            model.append({"class_name": "Dropout", "config": {"rate": 0.0 if len(sys.argv) > 6 else 0.5}})
    model.insert(0, {"class_name": "InputLayer", "config": {"batch_shape": [None, int(kernels[0].shape[0])]}})
    run = {"model": {"layers": model}, "data": {"train": "npy:%s,%s" % (sys.argv[3], sys.argv[4])},
           "compile": {"optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.0}}, "loss": "mse"},
           "fit": {"epochs": 1, "batch_size": 32, "seed": 1, "verbose": 1}}
    if len(sys.argv) > 6:  # one full-batch step of the file's own optimizer (its slots resume) and loss
        training = json.loads(text(f.attrs["training_config"]))
        name = training["optimizer_config"]["class_name"].split(">")[-1]
        run["compile"] = {"optimizer": name.lower(), "loss": training["loss"]}
        version = text(f.attrs.get("keras_version", "3"))
        major_minor = tuple(int(v) for v in version.split("-")[0].split(".")[:2])
        if name == "RMSprop" and major_minor < (2, 4) and not version.endswith("-tf"):
            # Keras <= 2.3's RMSprop: p -= lr * g / (sqrt(a) + epsilon), plugfit's epsilon_outside_sqrt
            run["compile"]["optimizer"] = {"class_name": "RMSprop", "config": {"epsilon_outside_sqrt": True}}
        run["fit"].update({"batch_size": 64, "shuffle": False})
    json.dump(run, open(sys.argv[5], "w"))
