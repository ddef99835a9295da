"""Numpy references for the Keras image models of ../shared/keras_files, from the files' own
weights: w11 (Keras 3.10 .h5: Conv2D, MaxPooling2D, Flatten, Dense), w13 (tf.keras 2.4 .h5:
Conv2D, MaxPooling2D, BatchNormalization x3, Flatten, Dense, Dropout) and w05 (Keras 3.5 .keras:
Dense, BatchNormalization, Dropout). Written from Keras's semantics, never from plugfit's code:
channels_last images; a Conv2D kernel is (kh, kw, in, out), "valid" keeps only whole windows and
"same" pads (TensorFlow's rule) the odd extra row/column at the bottom/right; MaxPooling2D's
"same" padding never wins a max; BatchNormalization at inference is
(x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta; Flatten is row-major;
Dropout is the identity at inference. A legacy .h5 lists each layer's weights in
model_weights/<layer>.attrs["weight_names"]; a .keras archive keeps them at
layers/<snake_case class>[_<n>]/vars/<i> in the order Keras creates them.

  keras_image_reference.py inputs FILE X.npy N [squeeze]  -- N seeded samples of FILE's input
      shape (with "squeeze": a trailing 1 dropped, as Keras users feed grayscale images); for a
      one-unit sigmoid, points whose outputs spread over (0.05, 0.95)
  keras_image_reference.py labels FILE X.npy Y.npy        -- one-hot labels for X (FILE's classes)
  keras_image_reference.py predict FILE X.npy PRED.npy    -- exit 1 unless PRED is within 1e-4
  keras_image_reference.py adam_step FILE X.npy Y.npy NEW.h5 -- exit 1 unless NEW.h5 (a legacy
      .h5) holds FILE's weights after one full-batch Adam step on (X, Y), within 1e-5 relative

adam_step's reference is PyTorch's autograd (Debian's torch, float64) on the network rebuilt
from FILE's weights (channels_last kernels (kh, kw, in, out) as NCHW (out, in, kh, kw); Flatten
of the NHWC tensor), Keras 3's categorical_crossentropy (probabilities renormalized, clipped to
[1e-7, 1 - 1e-7], the batch's mean), and Keras 3's Adam update (keras/src/optimizers/adam.py)
applied by hand from FILE's own momentum, velocity and iteration count: t = iterations + 1,
alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), m += (g - m)(1 - beta_1),
v += (g^2 - v)(1 - beta_2), w -= alpha * m / (sqrt(v) + epsilon).
"""
import io, json, re, sys, zipfile
import h5py, numpy as np

ACT = {"linear": lambda x: x, "relu": lambda x: np.maximum(x, 0), "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
       "softmax": lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)}
KERAS3_VARS = {"Conv2D": ["kernel", "bias"], "Dense": ["kernel", "bias"],
               "BatchNormalization": ["gamma", "beta", "moving_mean", "moving_variance"]}

def text(v):
    return v.decode() if isinstance(v, bytes) else v

def snake(name):
    return re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)).lower()

def open_model(path):
    """[(class, config, {weight name: array})] and the input shape without the batch."""
    if zipfile.is_zipfile(path):
        z = zipfile.ZipFile(path)
        layers = json.loads(z.read("config.json"))["config"]["layers"]
        f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
        used, out = {}, []
        for l in layers[1:]:
            name = snake(l["class_name"])
            used[name] = used.get(name, -1) + 1
            group = f["layers"][name if used[name] == 0 else "%s_%d" % (name, used[name])]
            vars_ = group["vars"] if "vars" in group else {}
            names = KERAS3_VARS.get(l["class_name"], [])
            out.append((l["class_name"], l["config"], {names[i]: np.asarray(vars_[str(i)], np.float64) for i in range(len(vars_))}))
        return out, layers[0]["config"]["batch_shape"][1:]
    f = h5py.File(path, "r")
    layers = json.loads(text(f.attrs["model_config"]))["config"]["layers"]
    mw, out = f["model_weights"], []
    for l in layers:
        if l["class_name"] == "InputLayer":
            continue
        g = mw[l["config"]["name"]]
        weights = {text(n).split("/")[-1].split(":")[0]: np.asarray(g[text(n)], np.float64) for n in g.attrs["weight_names"]}
        out.append((l["class_name"], l["config"], weights))
    first = layers[0]["config"]
    return out, (first.get("batch_shape") or first["batch_input_shape"])[1:]

def same_pads(n, k, s):
    """TensorFlow's "same": output ceil(n / s), the odd extra padding after (bottom/right)."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2

def windows(x, k, s, padding, fill):
    """x (n, h, w, c) padded as Keras pads it, and the output size (oh, ow)."""
    (kh, kw), (sh, sw) = k, s
    if padding == "same":
        (t, b), (l, r) = same_pads(x.shape[1], kh, sh), same_pads(x.shape[2], kw, sw)
        x = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=fill)
    oh, ow = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    return x, oh, ow

def conv2d(x, cfg, w):
    assert cfg.get("data_format", "channels_last") == "channels_last" and cfg.get("groups", 1) == 1
    assert list(cfg.get("dilation_rate", [1, 1])) == [1, 1]
    kernel = w["kernel"]
    kh, kw = kernel.shape[:2]
    sh, sw = cfg["strides"]
    x, oh, ow = windows(x, (kh, kw), (sh, sw), cfg["padding"], 0.0)
    out = np.zeros((x.shape[0], oh, ow, kernel.shape[3]))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]
            out += np.einsum("nhwc,co->nhwo", patch, kernel[i, j])
    if cfg.get("use_bias", True):
        out += w["bias"]
    return ACT[cfg["activation"]](out)

def max_pool(x, cfg):
    (kh, kw), (sh, sw) = cfg["pool_size"], cfg["strides"] or cfg["pool_size"]
    x, oh, ow = windows(x, (kh, kw), (sh, sw), cfg["padding"], -np.inf)
    out = np.full((x.shape[0], oh, ow, x.shape[3]), -np.inf)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :])
    return out

def batch_norm(x, cfg, w):
    axis = cfg["axis"][0] if isinstance(cfg["axis"], list) else cfg["axis"]
    assert axis in (-1, x.ndim - 1), axis
    gamma = w.get("gamma", 1.0) if cfg.get("scale", True) else 1.0
    beta = w.get("beta", 0.0) if cfg.get("center", True) else 0.0
    return (x - w["moving_mean"]) / np.sqrt(w["moving_variance"] + cfg["epsilon"]) * gamma + beta

def forward(layers, x):
    for cls, cfg, w in layers:
        if cls == "Conv2D":
            x = conv2d(x, cfg, w)
        elif cls == "MaxPooling2D":
            x = max_pool(x, cfg)
        elif cls == "BatchNormalization":
            x = batch_norm(x, cfg, w)
        elif cls == "Flatten":
            x = x.reshape(x.shape[0], -1)
        elif cls == "Dense":
            x = ACT[cfg["activation"]](x @ w["kernel"] + (w["bias"] if cfg.get("use_bias", True) else 0))
        elif cls != "Dropout":
            raise SystemExit("no reference for a Keras " + cls)
    return x

def torch_forward(torch, layers, x, params):
    """x (n, h, w, c) through layers in NCHW with params[i] {name: tensor} (Keras's layouts)."""
    F = torch.nn.functional
    act = {"linear": lambda t: t, "relu": torch.relu, "softmax": lambda t: torch.softmax(t, -1)}
    x = x.permute(0, 3, 1, 2)
    for (cls, cfg, _), w in zip(layers, params):
        if cls == "Conv2D":
            assert cfg["padding"] == "valid" and cfg.get("groups", 1) == 1, cfg
            assert list(cfg.get("dilation_rate", [1, 1])) == [1, 1], cfg
            x = F.conv2d(x, w["kernel"].permute(3, 2, 0, 1), w.get("bias"), stride=tuple(cfg["strides"]))
            x = act[cfg["activation"]](x)
        elif cls == "MaxPooling2D":
            assert cfg["padding"] == "valid", cfg
            x = F.max_pool2d(x, tuple(cfg["pool_size"]), tuple(cfg["strides"] or cfg["pool_size"]))
        elif cls == "Flatten":
            x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # Keras flattens channels_last
        elif cls == "Dense":
            x = act[cfg["activation"]](x @ w["kernel"] + (w["bias"] if "bias" in w else 0))
        elif cls != "Dropout":
            raise SystemExit("no PyTorch reference for a Keras " + cls)
    return x

def adam_step(path, x_path, y_path, new_path):
    import torch
    f = h5py.File(path, "r")
    training = json.loads(text(f.attrs["training_config"]))
    opt = training["optimizer_config"]
    assert opt["class_name"] == "Adam" and training["loss"] == "categorical_crossentropy", training
    c = opt["config"]
    assert not c.get("amsgrad") and c.get("weight_decay") is None and c.get("clipnorm") is None, c
    ow = f["optimizer_weights"]["adam"]
    iterations, lr = int(ow["iteration"][()]), float(ow["learning_rate"][()])
    model = json.loads(text(f.attrs["model_config"]))["config"]["name"]
    params = [{n: torch.tensor(a, requires_grad=True) for n, a in w.items()} for _, _, w in layers]
    x = torch.tensor(np.load(x_path).astype(np.float64).reshape(-1, *input_shape))
    y = torch.tensor(np.load(y_path).astype(np.float64))
    p = torch_forward(torch, layers, x, params)
    p = torch.clamp(p / p.sum(-1, keepdim=True), 1e-7, 1 - 1e-7)
    loss = -(y * torch.log(p)).sum(-1).mean()
    loss.backward()
    t = iterations + 1
    b1, b2, eps = c["beta_1"], c["beta_2"], c["epsilon"]
    alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    new, _ = open_model(new_path)
    g_new = h5py.File(new_path, "r")["optimizer_weights"]["adam"]
    assert int(g_new["iteration"][()]) == t, (int(g_new["iteration"][()]), t)
    worst = 0.0
    for (_, cfg, _), w, (_, _, got) in zip(layers, params, new):
        for name, var in w.items():
            slot = "%s_%s_%s" % (model, cfg["name"], name)
            m = np.asarray(ow[slot + "_momentum"], np.float64)
            v = np.asarray(ow[slot + "_velocity"], np.float64)
            g = var.grad.numpy()
            m = m + (g - m) * (1 - b1)
            v = v + (g * g - v) * (1 - b2)
            ref = var.detach().numpy() - alpha * m / (np.sqrt(v) + eps)
            for what, want, have in [("", ref, got[name]), (" momentum", m, g_new[slot + "_momentum"]),
                                     (" velocity", v, g_new[slot + "_velocity"])]:
                have = np.asarray(have, np.float64)
                assert have.shape == want.shape, (cfg["name"], name, have.shape, want.shape)
                d = float(np.abs(have - want).max() / max(np.abs(want).max(), 1e-30))
                worst = max(worst, d)
                print("%s/%s%s: largest difference %.3g relative" % (cfg["name"], name, what, d))
            print("%s/%s: the step moved it by up to %.3g" % (cfg["name"], name, float(np.abs(ref - var.detach().numpy()).max())))
    print("loss on the batch: %.6f; iteration %d -> %d; worst relative difference %.3g" % (loss.item(), iterations, t, worst))
    sys.exit(0 if worst <= 1e-5 else 1)

mode, path = sys.argv[1], sys.argv[2]
layers, input_shape = open_model(path)
def spread_inputs(rng, n):
    """For a one-unit sigmoid (w05 saturates to 0 or 1 almost everywhere): points on segments
    between a 0 and a 1 of the model, bisected to outputs spread over (0.05, 0.95)."""
    f = lambda v: forward(layers, v[None].astype(np.float32).astype(np.float64))[0, 0]
    out = []
    for target in np.linspace(0.05, 0.95, n):
        while True:
            a, b = rng.uniform(-3, 3, size=(2, *input_shape))
            if (f(a) - target) * (f(b) - target) < 0:
                break
        lo, hi = (a, b) if f(a) < target else (b, a)
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
        out.append((lo + hi) / 2)
    return np.array(out)

if mode == "inputs":
    n = int(sys.argv[4])
    rng = np.random.default_rng(12)
    if layers[-1][0] == "Dense" and layers[-1][1]["units"] == 1 and layers[-1][1]["activation"] == "sigmoid":
        x = spread_inputs(rng, n).astype(np.float32)
    else:
        x = rng.uniform(0, 1, size=(n, *input_shape)).astype(np.float32)
    if len(sys.argv) > 5 and sys.argv[5] == "squeeze":
        assert input_shape[-1] == 1, input_shape
        x = x.reshape(x.shape[:-1])
    np.save(sys.argv[3], x)
elif mode == "labels":
    x = np.load(sys.argv[3]).astype(np.float64).reshape(-1, *input_shape)
    classes = forward(layers, x).shape[1]
    np.save(sys.argv[4], np.eye(classes, dtype=np.float32)[np.arange(x.shape[0]) % classes])
elif mode == "predict":
    x = np.load(sys.argv[3]).astype(np.float64).reshape(-1, *input_shape)  # (n, h, w) as (n, h, w, 1)
    ref, got = forward(layers, x), np.load(sys.argv[4]).astype(np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    d = float(np.abs(got - ref).max())
    print(path, "predictions", ref.shape, "in [%.3g, %.3g]," % (ref.min(), ref.max()), "largest difference from numpy:", d)
    sys.exit(0 if d <= 1e-4 else 1)
elif mode == "adam_step":
    adam_step(path, sys.argv[3], sys.argv[4], sys.argv[5])
else:
    raise SystemExit("unknown mode " + mode)
