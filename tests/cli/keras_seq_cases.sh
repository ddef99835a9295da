#!/usr/bin/env bash
# The sequence layers in Keras's files (issue 13). Usage: keras_seq_cases.sh PLUGFIT SOURCE_ROOT CASE
# The real files are SOURCE_ROOT/../shared/keras_files (copied here; the cases that read them skip
# when a plain clone has none); Debian's /usr/bin/python3 with h5py and numpy computes the
# references (tests/cli/keras_seq_reference.py) and checks the layouts.
source "$(dirname "$0")/lib.sh"

py -c 'import h5py, numpy' 2>/dev/null ||
  fail "Debian's python3-h5py and python3-numpy are needed (scripts/setup installs them)"
reference="$root/tests/cli/keras_seq_reference.py"
copy_keras() {
  [ -f "$keras_files/$1" ] || fail "the Keras sample $keras_files/$1 is missing"
  cp "$keras_files/$1" "$1" && chmod u+w "$1"
}

case "$case_name" in
  keras_seq_real_files)
    need_keras_files
    # The real sequence models predict as numpy computes them from their own weights (within
    # 1e-4), then resume: one more epoch (one full batch) from the file with its Adam state, the
    # loss finite and the file's Adam iterations continued.
    for file in w06_2308087369_lstm_model.h5 w16_Ashishkaus04_lstm_model.keras w21_Daheeyah_gru_model.h5 \
                w28_2308087369_cnn_lstm_model_Yulara.h5 w02_AdamVenroy_model.keras; do
      copy_keras "$file"
      py "$reference" inputs "$file" "X_$file.npy" 16 || fail "writing inputs for $file"
      "$plugfit" predict "$file" --input "X_$file.npy" --output "pred_$file.npy" >/dev/null 2>err.txt ||
        fail "predict $file: $(cat err.txt)"
      py "$reference" predict "$file" "X_$file.npy" "pred_$file.npy" || fail "$file does not predict like numpy"
      cmp "$file" "$keras_files/$file" || fail "predict changed $file"
      if [ "$file" = w02_AdamVenroy_model.keras ]; then
        # Its length left open (batch shape [null, null]), evaluate builds it for the data too,
        # with the file's loss: binary cross-entropy from logits.
        py -c 'import sys, numpy as np; x = np.load(sys.argv[1]); np.save("B.npy", (x[:, 0] % 2).astype(np.float32))' "X_$file.npy"
        "$plugfit" evaluate "$file" --data "npy:X_$file.npy,B.npy" --json >eval.json 2>err.txt || fail "evaluate $file: $(cat err.txt)"
        loss=$(py -c 'import json; print(repr(json.load(open("eval.json"))["loss"]))')
        py "$reference" logits_loss "$file" "X_$file.npy" B.npy "$loss" || fail "$file's loss is not numpy's"
      fi
      py "$reference" labels "$file" "X_$file.npy" "Y_$file.npy" || fail "writing labels for $file"
      # The file's own architecture as the run's model (its layer names; the weights come from the file).
      py - "$file" "X_$file.npy" "Y_$file.npy" <<'PY' || fail "writing the run file for $file"
import io, json, sys, zipfile, h5py
path = sys.argv[1]
if zipfile.is_zipfile(path):
    z = zipfile.ZipFile(path)
    config, compile_config = json.loads(z.read("config.json")), None
    compile_config = config["compile_config"]["optimizer"]["config"]
else:
    f = h5py.File(path, "r")
    config = json.loads(f.attrs["model_config"])
    compile_config = json.loads(f.attrs["training_config"])["optimizer_config"]["config"]
layers = []
for spec in config["config"]["layers"]:
    if spec["class_name"] == "InputLayer":
        continue
    keep = {k: v for k, v in spec["config"].items()
            if k not in ("dtype", "zero_output_for_mask", "batch_input_shape", "input_length")
            and not k.endswith("_initializer") and not k.endswith("_regularizer") and not k.endswith("_constraint")}
    layers.append({"class_name": spec["class_name"], "config": keep})
optimizer = {"learning_rate": compile_config["learning_rate"]}
if compile_config.get("clipnorm"):
    optimizer["clipnorm"] = compile_config["clipnorm"]
run = {"model": {"layers": layers}, "data": {"train": f"npy:{sys.argv[2]},{sys.argv[3]}"},
       "compile": {"optimizer": {"class_name": "Adam", "config": optimizer}, "loss": "mse"},
       "fit": {"epochs": 1, "batch_size": 16, "seed": 1, "verbose": 2}}
json.dump(run, open("run.json", "w"))
PY
      iterations=$(py - "$file" <<'PY'
import io, sys, zipfile, h5py
path = sys.argv[1]
if zipfile.is_zipfile(path):
    print(int(h5py.File(io.BytesIO(zipfile.ZipFile(path).read("model.weights.h5")), "r")["optimizer/vars/0"][()]))
else:
    g = h5py.File(path, "r")["optimizer_weights"]
    names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
    print([int(g[n][()]) for n in names if n.split("/")[-1].split(":")[0] in ("iter", "iteration", "iterations")][0])
PY
)
      echo "$file: Adam iterations $iterations"
      "$plugfit" train run.json --resume --checkpoint "$file" >out.txt 2>err.txt ||
        fail "resume $file: $(cat err.txt) $(cat out.txt)"
      cat out.txt
      grep -q "^Resuming from hdf5:$PWD/$file/keras" out.txt || fail "$file did not resume with its Adam state"
      py -c '
import math, re, sys
losses = [float(v) for v in re.findall(r"\bloss: ([^ ]+)", open("out.txt").read())]
print("losses", losses)
sys.exit(0 if losses and all(math.isfinite(v) for v in losses) else 1)' || fail "$file: the resumed epoch's loss is not finite"
      "$plugfit" inspect --json "$file" >inspect.json || fail "inspect after resuming $file"
      py - "$iterations" <<'PY' || fail "$file: the resumed step count is not the file's plus one"
import json, sys
iterations = int(sys.argv[1])
steps = {c["name"]: c["global_step"] for c in json.load(open("inspect.json"))["checkpoints"]}
print("global steps:", steps)
assert steps.pop("keras") == iterations, steps
assert sorted(steps.values()) == [iterations + 1], steps
PY
    done
    # Options plugfit refuses, in one sentence naming the layer: stateful (every batch starts from
    # a zero state) and zero_output_for_mask true (a masked step repeats the previous output).
    w06=w06_2308087369_lstm_model.h5
    for option in stateful zero_output_for_mask; do
      py - "$keras_files/$w06" "$option.h5" "$option" <<'PY' || fail "writing $option.h5"
import json, shutil, sys, h5py
shutil.copy(sys.argv[1], sys.argv[2])
f = h5py.File(sys.argv[2], "r+")
c = json.loads(f.attrs["model_config"])
c["config"]["layers"][1]["config"][sys.argv[3]] = True
f.attrs["model_config"] = json.dumps(c)
PY
    done
    expect_error 2 '^plugfit: error: layer "lstm" \(LSTM\): "stateful" true is not supported; every batch starts from a zero state$' \
      "$plugfit" predict stateful.h5 --input "X_$w06.npy" --output no.npy
    expect_error 2 "^plugfit: error: $PWD/zero_output_for_mask.h5: layer 1 \"lstm\" has zero_output_for_mask true, which plugfit's LSTM does not support \(a masked step repeats the previous output, Keras's default\)$" \
      "$plugfit" inspect zero_output_for_mask.h5
    ;;
  keras_seq_inspect)
    need_keras_files
    # inspect lists w06's LSTM with its weights' shapes, as h5py reads them from the file.
    file=w06_2308087369_lstm_model.h5
    copy_keras $file
    "$plugfit" inspect "$file" | tee inspect.txt || fail "inspect $file"
    grep -q "\[InputLayer,LSTM,Dense\]" inspect.txt || fail "inspect does not list the LSTM"
    "$plugfit" inspect --json "$file" >inspect.json || fail "inspect --json $file"
    py - "$file" <<'PY' || fail "inspect's weights are not the file's"
import json, sys, h5py
f = h5py.File(sys.argv[1], "r")
g = f["model_weights/lstm"]
text = lambda v: v.decode() if isinstance(v, bytes) else v
want = [list(g[n].shape) for n in map(text, g.attrs["weight_names"])]
weights = json.load(open("inspect.json"))["checkpoints"][0]["weights"]
lstm = [w["shape"] for w in weights if "lstm" in w["name"]]
print("LSTM weights:", lstm, "file:", want)
assert lstm == want == [[10, 200], [50, 200], [200]], (lstm, want)
text_out = open("inspect.txt").read()
assert "(10, 200)" in text_out and "(50, 200)" in text_out, text_out
PY
    ;;
  keras_seq_round_trip)
    # A model of the sequence layers, trained by plugfit, saved as .keras, .h5 and .weights.h5:
    # each loaded back (also without plugfit's own group) predicts bit for bit as the run's
    # checkpoint does; the files carry Keras 3's layout (a recurrent layer's weights in its cell, TimeDistributed's in its layer) and
    # config.json Keras 3's get_config keys per class.
    py -c '
import numpy as np
r = np.random.default_rng(0)
x = r.integers(1, 40, size=(64, 12)).astype(np.int32)
for i in range(64):
    x[i, 12 - i % 5:] = 0  # padded at the end: mask_zero masks those steps
np.save("X.npy", x)
np.save("Y.npy", (x[:, 0] % 2).astype(np.float32))'
    cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 12]}},
  {"class_name": "Embedding", "config": {"input_dim": 40, "output_dim": 8, "mask_zero": true}},
  {"class_name": "LSTM", "config": {"units": 8, "return_sequences": true}},
  {"class_name": "GRU", "config": {"units": 6, "reset_after": false}},
  {"class_name": "RepeatVector", "config": {"n": 6}},
  {"class_name": "Conv1D", "config": {"filters": 5, "kernel_size": 3, "padding": "causal", "dilation_rate": 2, "activation": "relu"}},
  {"class_name": "MaxPooling1D", "config": {"pool_size": 2, "padding": "same"}},
  {"class_name": "GRU", "config": {"units": 5, "return_sequences": true, "go_backwards": true}},
  {"class_name": "LayerNormalization", "config": {}},
  {"class_name": "SimpleRNN", "config": {"units": 4, "return_sequences": true, "dropout": 0.2}},
  {"class_name": "TimeDistributed", "config": {"layer": {"class_name": "Dense", "config": {"units": 3, "activation": "tanh"}}}},
  {"class_name": "AveragePooling1D", "config": {"pool_size": 2, "strides": 1}},
  {"class_name": "GlobalMaxPooling1D", "config": {}},
  {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]},
 "data": {"train": "npy:X.npy,Y.npy"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 2, "batch_size": 16, "seed": 3, "verbose": 0}}
JSON
    "$plugfit" train run.json --checkpoint dir:ck || fail "training the sequence model"
    "$plugfit" predict dir:ck --input X.npy --output run.npy >/dev/null || fail "predict from dir:ck"
    for file in m.keras m.h5 m.weights.h5; do
      "$plugfit" convert dir:ck $file --only latest >/dev/null || fail "convert into $file"
      "$plugfit" predict $file --input X.npy --output pred.npy >/dev/null 2>err.txt || fail "predict from $file: $(cat err.txt)"
      same_bytes run.npy pred.npy || fail "$file predicts otherwise than the run's checkpoint"
    done
    # The files as Keras alone would have them (no /plugfit group): read from Keras's config and
    # layout only, they predict bit for bit too.
    py - <<'PY' || fail "writing the files without their plugfit group"
import io, zipfile, h5py
def copy_without_plugfit(src, dst):
    for k, v in src.attrs.items():
        dst.attrs[k] = v
    for name in src:
        if name != "plugfit":
            src.copy(name, dst)
with h5py.File("m.h5", "r") as src, h5py.File("k.h5", "w") as dst:
    copy_without_plugfit(src, dst)
z = zipfile.ZipFile("m.keras")
image = io.BytesIO()
with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as src, h5py.File(image, "w") as dst:
    copy_without_plugfit(src, dst)
with zipfile.ZipFile("k.keras", "w") as out:
    for member in ("metadata.json", "config.json"):
        out.writestr(member, z.read(member))
    out.writestr("model.weights.h5", image.getvalue())
with h5py.File("m.weights.h5", "r") as src, h5py.File("k.weights.h5", "w") as dst:
    copy_without_plugfit(src, dst)
PY
    for file in k.h5 k.keras; do
      "$plugfit" predict $file --input X.npy --output pred.npy >/dev/null 2>err.txt || fail "predict from $file: $(cat err.txt)"
      same_bytes run.npy pred.npy || fail "$file (Keras's layout only) predicts otherwise than the run's checkpoint"
    done
    # k.weights.h5 loads by Keras's layer groups into the run's model (SGD at rate 0 keeps them).
    py -c '
import json
r = json.load(open("run.json"))
r["load_weights"] = "k.weights.h5"
r["compile"]["optimizer"] = {"class_name": "SGD", "config": {"learning_rate": 0.0}}
r["fit"]["epochs"] = 1
json.dump(r, open("loaded.json", "w"))'
    "$plugfit" train loaded.json --checkpoint dir:loaded >/dev/null || fail "training with load_weights k.weights.h5"
    "$plugfit" predict dir:loaded --input X.npy --output pred.npy >/dev/null || fail "predict after load_weights"
    same_bytes run.npy pred.npy || fail "k.weights.h5 (Keras's layout only) loads other weights"
    py -c 'import zipfile; open("config.json", "wb").write(zipfile.ZipFile("m.keras").read("config.json"))'
    py "$reference" keys config.json || fail "m.keras's config.json lacks Keras 3's keys"
    py - <<'PY' || fail "the files are not laid out as Keras 3 lays out these layers"
import io, json, zipfile, h5py
text = lambda v: v.decode() if isinstance(v, bytes) else v
z = zipfile.ZipFile("m.keras")
layers = json.loads(z.read("config.json"))["config"]["layers"]
shapes = [(l["class_name"], (l.get("build_config") or {}).get("input_shape")) for l in layers]
print(shapes)
# Keras's shape rules: causal keeps the length, same pooling ceil(6 / 2), valid pooling 3 - 2 + 1.
assert shapes[4] == ("RepeatVector", [None, 6]) and shapes[5] == ("Conv1D", [None, 6, 6]), shapes
assert shapes[7] == ("GRU", [None, 3, 5]) and shapes[11][0] == "AveragePooling1D", shapes
assert shapes[12] == ("GlobalMaxPooling1D", None) and shapes[13] == ("Dense", [None, 3]), shapes
td = layers[10]["config"]["layer"]
assert td["class_name"] == "Dense" and td["build_config"] == {"input_shape": [None, 4]}, td
for name, f in [("m.weights.h5", h5py.File("m.weights.h5", "r")),
                ("model.weights.h5", h5py.File(io.BytesIO(z.read("model.weights.h5")), "r"))]:
    for path, n in [("layers/lstm/cell/vars", 3), ("layers/gru/cell/vars", 3), ("layers/gru_1/cell/vars", 3),
                    ("layers/simple_rnn/cell/vars", 3), ("layers/time_distributed/layer/vars", 2),
                    ("layers/lstm/vars", 0), ("layers/layer_normalization/vars", 2), ("layers/embedding/vars", 1)]:
        assert len(f[path]) == n, (name, path, list(f[path]))
    assert text(f["layers/lstm/cell/vars"].attrs["name"]) == "lstm_cell", name
    assert f["layers/gru/cell/vars/2"].shape == (18,) and f["layers/gru_1/cell/vars/2"].shape == (2, 15), name
h5 = h5py.File("m.h5", "r")
names = [text(n) for n in h5["model_weights/lstm"].attrs["weight_names"]]
assert names == ["sequential/lstm/lstm_cell/kernel", "sequential/lstm/lstm_cell/recurrent_kernel",
                 "sequential/lstm/lstm_cell/bias"], names
td = [text(n) for n in h5["model_weights/time_distributed"].attrs["weight_names"]]
assert td == ["sequential/time_distributed/dense/kernel", "sequential/time_distributed/dense/bias"], td
slots = [text(n) for n in h5["optimizer_weights"].attrs["weight_names"]]
assert "adam/sequential_lstm_lstm_cell_recurrent_kernel_velocity" in slots, slots
print("layouts as Keras 3's:", len(slots), "optimizer variables")
PY
    # Masking and GlobalAveragePooling1D (float steps, the masked ones all zero) the same way.
    py -c '
import numpy as np
r = np.random.default_rng(1)
x = r.normal(size=(32, 7, 3)).astype(np.float32)
for i in range(32):
    x[i, 7 - i % 4:] = 0.0
np.save("F.npy", x)
np.save("G.npy", x.sum(axis=(1, 2)).astype(np.float32))'
    cat >masked.json <<'JSON'
{"model": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 7, 3]}},
  {"class_name": "Masking", "config": {"mask_value": 0.0}},
  {"class_name": "LSTM", "config": {"units": 4, "return_sequences": true, "go_backwards": true}},
  {"class_name": "GlobalAveragePooling1D", "config": {}},
  {"class_name": "Dense", "config": {"units": 1}}]},
 "data": {"train": "npy:F.npy,G.npy"},
 "compile": {"optimizer": "adam", "loss": "mse"},
 "fit": {"epochs": 2, "batch_size": 8, "seed": 5, "verbose": 0}}
JSON
    "$plugfit" train masked.json --checkpoint dir:masked >/dev/null || fail "training the masked model"
    "$plugfit" predict dir:masked --input F.npy --output run.npy >/dev/null || fail "predict from dir:masked"
    for file in masked.keras masked.h5; do
      "$plugfit" convert dir:masked $file --only latest >/dev/null || fail "convert into $file"
      py - $file <<'PY' || fail "writing $file without its plugfit group"
import io, sys, zipfile, h5py
path = sys.argv[1]
def copy_without_plugfit(src, dst):
    for k, v in src.attrs.items():
        dst.attrs[k] = v
    for name in src:
        if name != "plugfit":
            src.copy(name, dst)
if path.endswith(".h5"):
    with h5py.File(path, "r") as src, h5py.File("k_" + path, "w") as dst:
        copy_without_plugfit(src, dst)
else:
    z = zipfile.ZipFile(path)
    image = io.BytesIO()
    with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as src, h5py.File(image, "w") as dst:
        copy_without_plugfit(src, dst)
    with zipfile.ZipFile("k_" + path, "w") as out:
        for member in ("metadata.json", "config.json"):
            out.writestr(member, z.read(member))
        out.writestr("model.weights.h5", image.getvalue())
PY
      for each in $file k_$file; do
        "$plugfit" predict $each --input F.npy --output pred.npy >/dev/null 2>err.txt || fail "predict from $each: $(cat err.txt)"
        same_bytes run.npy pred.npy || fail "$each predicts otherwise than the run's checkpoint"
      done
    done
    py -c 'import zipfile; open("config.json", "wb").write(zipfile.ZipFile("masked.keras").read("config.json"))'
    py "$reference" keys config.json || fail "masked.keras's config.json lacks Keras 3's keys"
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
echo "PASS: $case_name"
