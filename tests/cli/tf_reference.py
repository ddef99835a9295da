#!/usr/bin/python3
"""An independent reader of TensorFlow checkpoints and Keras SavedModels, and Keras's forward pass.

Written from the formats' public definitions (LevelDB's table_format.md; tensor_bundle.proto,
tensor_shape.proto, saved_metadata.proto; TF's masked CRC-32C), never from plugfit's code: it
reads the variables by their checkpoint keys from the index (not through the object graph, as
plugfit does), checks every tensor's CRC-32C, and computes the model's outputs with numpy from
Keras's documented semantics (Dense, Conv2D valid/same with stride, MaxPooling2D, Flatten,
Dropout at inference).

  tf_reference.py predict SAVED_MODEL_DIR X.npy OUT.npy    the SavedModel's outputs
  tf_reference.py charity PREFIX X.npy OUT.npy             Dense(80 relu) -> Dense(30 relu) -> Dense(1 sigmoid)
  tf_reference.py step PREFIX                              prints optimizer/iter
  tf_reference.py keys PREFIX                              prints every key, dtype and shape
"""
import json
import struct
import sys

import numpy as np

# --- CRC-32C (Castagnoli), bitwise, and TF's mask -------------------------------------------

_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def mask(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# --- protobuf wire format -----------------------------------------------------------------

def varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def fields(buf):
    """(field number, wire type, value) for each field of a message."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = varint(buf, pos)
        elif wt == 1:
            val = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wt == 2:
            n, pos = varint(buf, pos)
            val = bytes(buf[pos:pos + n])
            assert len(val) == n, "truncated field"
            pos += n
        elif wt == 5:
            val = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, val


# --- LevelDB table --------------------------------------------------------------------------

def block_entries(file, offset, size):
    block = file[offset:offset + size]
    kind = file[offset + size]
    stored = struct.unpack_from("<I", file, offset + size + 1)[0]
    assert mask(crc32c(block + bytes([kind]))) == stored, "block CRC"
    assert kind == 0, "compressed block"
    nrestarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * nrestarts
    pos, key = 0, b""
    while pos < end:
        shared, pos = varint(block, pos)
        unshared, pos = varint(block, pos)
        vlen, pos = varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + vlen]
        pos += vlen


def read_table(path):
    file = open(path, "rb").read()
    footer = file[-48:]
    assert struct.unpack_from("<Q", footer, 40)[0] == 0xDB4775248B80FB57, "magic"
    pos = 0
    _, pos = varint(footer, pos)
    _, pos = varint(footer, pos)
    ioff, pos = varint(footer, pos)
    isize, pos = varint(footer, pos)
    out = {}
    for _, handle in block_entries(file, ioff, isize):
        off, p = varint(handle, 0)
        size, _ = varint(handle, p)
        for k, v in block_entries(file, off, size):
            out[k.decode()] = v
    return out


DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 19: np.float16}


def entry(value):
    e = {"dtype": 0, "shape": [], "shard": 0, "offset": 0, "size": 0, "crc": 0}
    for num, _, val in fields(value):
        if num == 1:
            e["dtype"] = val
        elif num == 2:
            for n2, _, v2 in fields(val):
                if n2 == 2:
                    size = 0
                    for n3, _, v3 in fields(v2):
                        if n3 == 1:
                            size = v3
                    e["shape"].append(size)
        elif num == 3:
            e["shard"] = val
        elif num == 4:
            e["offset"] = val
        elif num == 5:
            e["size"] = val
        elif num == 6:
            e["crc"] = val
    return e


class Bundle:
    def __init__(self, prefix):
        self.prefix = prefix
        table = read_table(prefix + ".index")
        self.shards = 1
        for num, _, val in fields(table.pop("")):
            if num == 1:
                self.shards = val
        self.entries = {k: entry(v) for k, v in table.items()}

    def tensor(self, key):
        e = self.entries[key]
        path = "%s.data-%05d-of-%05d" % (self.prefix, e["shard"], self.shards)
        with open(path, "rb") as f:
            f.seek(e["offset"])
            raw = f.read(e["size"])
        assert len(raw) == e["size"], "short shard"
        if e["dtype"] == 14:  # bfloat16
            arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, DTYPES[e["dtype"]])
        assert mask(crc32c(raw)) == e["crc"], "tensor CRC of " + key
        return arr.reshape(e["shape"]).astype(np.float64 if e["dtype"] != 9 else np.int64)


# --- Keras's forward pass -------------------------------------------------------------------

def activation(name, x):
    if name in (None, "linear"):
        return x
    if name == "relu":
        return np.maximum(x, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if name == "tanh":
        return np.tanh(x)
    raise ValueError("activation " + name)


def untuple(v):
    """Keras's SavedModel JSON writes Python tuples as {"class_name": "__tuple__", "items": [...]}."""
    if isinstance(v, dict):
        if v.get("class_name") == "__tuple__" and "items" in v:
            return [untuple(i) for i in v["items"]]
        return {k: untuple(i) for k, i in v.items()}
    if isinstance(v, list):
        return [untuple(i) for i in v]
    return v


def pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def pad_same(x, k, s):
    n, h, w, c = x.shape
    out_h, out_w = -(-h // s[0]), -(-w // s[1])
    ph = max((out_h - 1) * s[0] + k[0] - h, 0)
    pw = max((out_w - 1) * s[1] + k[1] - w, 0)
    return np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))


def conv2d(x, kernel, bias, cfg):
    s = pair(cfg.get("strides", 1))
    k = kernel.shape[:2]
    if cfg.get("padding", "valid") == "same":
        x = pad_same(x, k, s)
    n, h, w, c = x.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    out = np.zeros((n, oh, ow, kernel.shape[3]))
    for i in range(k[0]):
        for j in range(k[1]):
            patch = x[:, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1], :]
            out += patch @ kernel[i, j]
    return out + (bias if bias is not None else 0)


def maxpool(x, cfg):
    p = pair(cfg.get("pool_size", 2))
    s = pair(cfg.get("strides") or p)
    if cfg.get("padding", "valid") == "same":
        x = pad_same(x, p, s)  # (zeros never win after a relu; a reference for these models)
    n, h, w, c = x.shape
    oh, ow = (h - p[0]) // s[0] + 1, (w - p[1]) // s[1] + 1
    out = np.full((n, oh, ow, c), -np.inf)
    for i in range(p[0]):
        for j in range(p[1]):
            out = np.maximum(out, x[:, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1], :])
    return out


def forward(layers, weights, x):
    k = 0
    for layer in layers:
        cls, cfg = layer["class_name"], layer["config"]
        if cls in ("InputLayer", "Dropout"):
            continue
        if cls == "Flatten":
            x = x.reshape(x.shape[0], -1)
        elif cls == "MaxPooling2D":
            x = maxpool(x, cfg)
        elif cls in ("Dense", "Conv2D"):
            kernel = weights(k, "kernel")
            bias = weights(k, "bias") if cfg.get("use_bias", True) else None
            k += 1
            x = (x @ kernel + (bias if bias is not None else 0)) if cls == "Dense" else conv2d(x, kernel, bias, cfg)
            x = activation(cfg.get("activation"), x)
        else:
            raise ValueError("layer " + cls)
    return x


def saved_model_layers(folder):
    data = open(folder + "/keras_metadata.pb", "rb").read()
    for num, _, node in fields(data):
        if num != 1:
            continue
        path = meta = None
        for n2, _, v2 in fields(node):
            if n2 == 3:
                path = v2.decode()
            elif n2 == 5:
                meta = v2.decode()
        if path == "root":
            return untuple(json.loads(meta)["config"]["layers"])
    raise ValueError("no root node")


def weight_of(bundle):
    return lambda k, name: bundle.tensor("layer_with_weights-%d/%s/.ATTRIBUTES/VARIABLE_VALUE" % (k, name))


def main():
    cmd = sys.argv[1]
    if cmd == "predict":
        folder, xs, out = sys.argv[2:5]
        bundle = Bundle(folder + "/variables/variables")
        y = forward(saved_model_layers(folder), weight_of(bundle), np.load(xs).astype(np.float64))
        np.save(out, y)
    elif cmd == "charity":
        prefix, xs, out = sys.argv[2:5]
        layers = [{"class_name": "Dense", "config": {"activation": a}} for a in ("relu", "relu", "sigmoid")]
        np.save(out, forward(layers, weight_of(Bundle(prefix)), np.load(xs).astype(np.float64)))
    elif cmd == "step":
        print(int(Bundle(sys.argv[2]).tensor("optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE")))
    elif cmd == "keys":
        b = Bundle(sys.argv[2])
        for k, e in sorted(b.entries.items()):
            print(k, e["dtype"], e["shape"])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
