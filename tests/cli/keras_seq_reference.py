"""numpy references for the sequence models of ../shared/keras_files (tests/cli/keras_seq_cases.sh).

Reads a Keras file's own config and weights with h5py (a legacy .h5, also one named .keras, or a
Keras 3 .keras zip) and computes the forward pass from Keras's documented semantics, never from
plugfit's code: keras/src/layers/rnn/lstm.py (gates i, f, c, o: c = f*c + i*act(z_c),
h = o*act(c)), gru.py (gates z, r, h; reset_after applies r to the recurrent projection with
its own bias row, else to the state before it; h = z*h_prev + (1-z)*hh), simple_rnn.py,
convolutional/base_conv.py (valid, same, causal: left padding of dilation*(k-1)),
pooling (valid, same; average over the window's real steps), core/embedding.py.

  inputs FILE OUT N          seeded random inputs of the file's input shape (token ids for an Embedding)
  labels FILE X OUT          seeded random targets of the model's output shape
  predict FILE X PRED        PRED (plugfit's) equals numpy's within 1e-4
  logits_loss FILE X Y LOSS  LOSS (plugfit's) is Keras's binary cross-entropy from logits of numpy's outputs
  keys CONFIG_JSON           every layer of a .keras config.json carries Keras 3's get_config keys in order
"""
import io
import json
import sys
import zipfile

import h5py
import numpy as np


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def snake(name):
    import re
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def read_model(path):
    """[(class_name, config, [weights in Keras's order])] for every layer, and the input batch shape."""
    if zipfile.is_zipfile(path):
        z = zipfile.ZipFile(path)
        config = json.loads(z.read("config.json"))
        f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
        layers, used = [], {}
        for spec in config["config"]["layers"]:
            cls = spec["class_name"]
            if cls == "InputLayer":
                continue
            base = snake(cls)
            n = used.get(base, 0)
            used[base] = n + 1
            group = f["layers"][base if n == 0 else f"{base}_{n}"]

            def variables(g):  # own vars, then each child's, depth first in name order
                out = [np.asarray(g["vars"][str(i)]) for i in range(len(g["vars"]))] if "vars" in g else []
                for child in sorted(k for k in g.keys() if k != "vars"):
                    out += variables(g[child])
                return out

            layers.append((cls, spec["config"], variables(group)))
        specs = config["config"]["layers"]
    else:
        f = h5py.File(path, "r")
        config = json.loads(text(f.attrs["model_config"]))
        mw = f["model_weights"]
        by_name = {}
        for name in map(text, mw.attrs["layer_names"]):
            by_name[name] = [np.asarray(mw[name][w]) for w in map(text, mw[name].attrs["weight_names"])]
        specs = config["config"]["layers"]
        layers = [(s["class_name"], s["config"], by_name[s["config"]["name"]]) for s in specs
                  if s["class_name"] != "InputLayer"]
    first = specs[0]["config"]
    shape = first.get("batch_shape") or first.get("batch_input_shape")
    return layers, shape


def act(name, x):
    name = name if isinstance(name, str) else name.get("config", {}).get("name", "linear")
    if name in ("linear", None):
        return x
    if name == "relu":
        return np.maximum(x, 0)
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise SystemExit(f"activation {name} not in the reference")


def recurrent(cls, c, w, x):
    kernel, recurrent_kernel = w[0], w[1]
    bias = w[2] if len(w) > 2 else None
    n, steps, _ = x.shape
    u = c["units"]
    h = np.zeros((n, u))
    cell = np.zeros((n, u))
    order = range(steps - 1, -1, -1) if c.get("go_backwards") else range(steps)
    outputs = []
    for t in order:
        xt = x[:, t, :]
        if cls == "SimpleRNN":
            h = act(c.get("activation", "tanh"), xt @ kernel + h @ recurrent_kernel + (0 if bias is None else bias))
        elif cls == "LSTM":
            z = xt @ kernel + h @ recurrent_kernel + (0 if bias is None else bias)
            i, f, g, o = (z[:, k * u:(k + 1) * u] for k in range(4))
            rec = lambda v: act(c.get("recurrent_activation", "sigmoid"), v)
            cell = rec(f) * cell + rec(i) * act(c.get("activation", "tanh"), g)
            h = rec(o) * act(c.get("activation", "tanh"), cell)
        else:  # GRU
            rec = lambda v: act(c.get("recurrent_activation", "sigmoid"), v)
            if c.get("reset_after", True):
                b_in, b_rec = (bias[0], bias[1]) if bias is not None else (0, 0)
                mx = xt @ kernel + b_in
                mi = h @ recurrent_kernel + b_rec
                z = rec(mx[:, :u] + mi[:, :u])
                r = rec(mx[:, u:2 * u] + mi[:, u:2 * u])
                hh = act(c.get("activation", "tanh"), mx[:, 2 * u:] + r * mi[:, 2 * u:])
            else:
                mx = xt @ kernel + (0 if bias is None else bias)
                z = rec(mx[:, :u] + h @ recurrent_kernel[:, :u])
                r = rec(mx[:, u:2 * u] + h @ recurrent_kernel[:, u:2 * u])
                hh = act(c.get("activation", "tanh"), mx[:, 2 * u:] + (r * h) @ recurrent_kernel[:, 2 * u:])
            h = z * h + (1 - z) * hh
        outputs.append(h)
    return np.stack(outputs, axis=1) if c.get("return_sequences") else h


def one(v):
    return v[0] if isinstance(v, (list, tuple)) else v


def conv1d(c, w, x):
    k, s, d = one(c["kernel_size"]), one(c.get("strides", 1)), one(c.get("dilation_rate", 1))
    span = d * (k - 1) + 1
    steps = x.shape[1]
    pad = c.get("padding", "valid")
    if pad == "causal":
        left, out_len = span - 1, (steps - 1) // s + 1
    elif pad == "same":
        out_len = (steps - 1) // s + 1
        left = max((out_len - 1) * s + span - steps, 0) // 2
    else:
        left, out_len = 0, (steps - span) // s + 1
    padded = np.zeros((x.shape[0], steps + 2 * span, x.shape[2]))
    padded[:, left:left + steps] = x
    y = np.zeros((x.shape[0], out_len, w[0].shape[2]))
    for t in range(out_len):
        for j in range(k):
            y[:, t] += padded[:, t * s + j * d] @ w[0][j]
    if len(w) > 1:
        y += w[1]
    return act(c.get("activation", "linear"), y)


def pool1d(cls, c, x):
    p, s = one(c["pool_size"]), one(c.get("strides") or c["pool_size"])
    steps = x.shape[1]
    if c.get("padding", "valid") == "same":
        out_len = (steps - 1) // s + 1
        left = max((out_len - 1) * s + p - steps, 0) // 2
    else:
        out_len, left = (steps - p) // s + 1, 0
    y = np.zeros((x.shape[0], out_len, x.shape[2]))
    for t in range(out_len):
        lo, hi = max(t * s - left, 0), min(t * s - left + p, steps)
        window = x[:, lo:hi]
        y[:, t] = window.max(axis=1) if cls == "MaxPooling1D" else window.mean(axis=1)
    return y


def forward(layers, x):
    for cls, c, w in layers:
        if cls in ("SimpleRNN", "LSTM", "GRU"):
            x = recurrent(cls, c, w, x)
        elif cls == "Dense":
            x = act(c.get("activation", "linear"), x @ w[0] + (w[1] if len(w) > 1 else 0))
        elif cls == "Conv1D":
            x = conv1d(c, w, x)
        elif cls in ("MaxPooling1D", "AveragePooling1D"):
            x = pool1d(cls, c, x)
        elif cls == "GlobalAveragePooling1D":
            x = x.mean(axis=1)
        elif cls == "GlobalMaxPooling1D":
            x = x.max(axis=1)
        elif cls == "Embedding":
            x = w[0][x.astype(np.int64)]
        elif cls == "Dropout":
            pass
        else:
            raise SystemExit(f"layer {cls} not in the reference")
    return x


# Keras 3.10's get_config keys per class, in its order, from keras/src/layers (the base Layer's
# name, trainable, dtype first): rnn/rnn.py + rnn/{simple_rnn,lstm,gru}.py, core/embedding.py,
# core/masking.py, convolutional/base_conv.py, pooling/base_pooling.py,
# pooling/base_global_pooling.py, normalization/layer_normalization.py,
# reshaping/repeat_vector.py, rnn/time_distributed.py (core/wrapper.py), core/dense.py.
BASE = ["name", "trainable", "dtype"]
RNN = BASE + ["return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask"]
TERMS = ["kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
         "kernel_constraint", "recurrent_constraint", "bias_constraint"]
INITS = ["kernel_initializer", "recurrent_initializer", "bias_initializer"]
KERAS_KEYS = {
    "SimpleRNN": RNN + ["units", "activation", "use_bias"] + INITS + TERMS + ["dropout", "recurrent_dropout", "seed"],
    "LSTM": RNN + ["units", "activation", "recurrent_activation", "use_bias"] + INITS + ["unit_forget_bias"] + TERMS +
            ["dropout", "recurrent_dropout", "seed"],
    "GRU": RNN + ["units", "activation", "recurrent_activation", "use_bias"] + INITS + TERMS +
           ["dropout", "recurrent_dropout", "reset_after", "seed"],
    "Embedding": BASE + ["input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer",
                         "activity_regularizer", "embeddings_constraint", "mask_zero"],
    "Masking": BASE + ["mask_value"],
    "Conv1D": BASE + ["filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
                      "activation", "use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer",
                      "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"],
    "MaxPooling1D": BASE + ["pool_size", "padding", "strides", "data_format"],
    "AveragePooling1D": BASE + ["pool_size", "padding", "strides", "data_format"],
    "GlobalMaxPooling1D": BASE + ["data_format", "keepdims"],
    "GlobalAveragePooling1D": BASE + ["data_format", "keepdims"],
    "LayerNormalization": BASE + ["axis", "epsilon", "center", "scale", "rms_scaling", "beta_initializer",
                                  "gamma_initializer", "beta_regularizer", "gamma_regularizer", "beta_constraint",
                                  "gamma_constraint"],
    "RepeatVector": BASE + ["n"],
    "TimeDistributed": BASE + ["layer"],
    "Dense": BASE + ["units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
                     "kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint"],
    "Dropout": BASE + ["rate", "seed", "noise_shape"],
}


def check_keys(path):
    config = json.load(open(path))
    seen = set()

    def check(spec):
        cls = spec["class_name"]
        if cls == "InputLayer":
            return
        got = list(spec["config"].keys())
        assert cls in KERAS_KEYS, f"{cls} has no Keras key list here"
        assert got == KERAS_KEYS[cls], f"{cls}: {got} != {KERAS_KEYS[cls]}"
        assert spec.get("module") == "keras.layers" and spec.get("registered_name") is None, spec
        seen.add(cls)
        if cls == "TimeDistributed":
            check(spec["config"]["layer"])

    for spec in config["config"]["layers"]:
        check(spec)
    print("Keras 3's keys for", sorted(seen))


def main():
    cmd = sys.argv[1]
    if cmd == "keys":
        check_keys(sys.argv[2])
        return
    layers, shape = read_model(sys.argv[2])
    rng = np.random.default_rng(13)
    if cmd == "inputs":
        n = int(sys.argv[4])
        if layers[0][0] == "Embedding":
            steps = shape[1] or 20  # a length the file leaves open: any fits
            x = rng.integers(0, layers[0][1]["input_dim"], size=(n, steps)).astype(np.int32)
        else:
            x = rng.normal(size=(n, *shape[1:])).astype(np.float32)
        np.save(sys.argv[3], x)
    elif cmd == "labels":
        y = forward(layers, np.load(sys.argv[3]).astype(np.float64))
        np.save(sys.argv[4], rng.normal(size=y.shape).astype(np.float32))
    elif cmd == "predict":
        x = np.load(sys.argv[3])
        want = forward(layers, x if x.dtype.kind in "iu" else x.astype(np.float64))
        got = np.load(sys.argv[4]).astype(np.float64)
        assert got.shape == want.shape, (got.shape, want.shape)
        d = float(np.abs(got - want).max())
        print(sys.argv[2], "largest difference from numpy:", d)
        sys.exit(0 if d <= 1e-4 else 1)
    elif cmd == "logits_loss":
        # keras/src/backend/numpy/nn.py binary_crossentropy(from_logits=True): the stable form.
        x = np.load(sys.argv[3])
        z = forward(layers, x if x.dtype.kind in "iu" else x.astype(np.float64))[:, 0]
        y = np.load(sys.argv[4]).astype(np.float64).reshape(-1)
        want = float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
        got = float(sys.argv[5])
        print(sys.argv[2], "loss", got, "numpy", want)
        sys.exit(0 if abs(got - want) <= 1e-4 * max(1.0, abs(want)) else 1)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
