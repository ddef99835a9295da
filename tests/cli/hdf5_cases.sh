#!/usr/bin/env bash
# End-to-end tests of the hdf5: checkpoint backend. Usage: hdf5_cases.sh PLUGFIT SOURCE_ROOT CASE
# Each case is one meson test; it prints what it checked and exits non-zero on failure. The
# real Keras files are SOURCE_ROOT/../shared/keras_files (copied here: the originals are never
# written; the cases that read them skip when a plain clone has none); Debian's /usr/bin/python3 with h5py and numpy checks layouts and values.
source "$(dirname "$0")/lib.sh"

py -c 'import h5py, numpy' 2>/dev/null ||
  fail "Debian's python3-h5py and python3-numpy are needed (scripts/setup installs them)"
copy_keras() {  # copy_keras NAME: a writable copy of one Keras sample in the work folder
  [ -f "$keras_files/$1" ] || fail "the Keras sample $keras_files/$1 is missing"
  cp "$keras_files/$1" "$1" && chmod u+w "$1"
}


# The Keras 3 churn model (InputLayer 12, Dense 64 relu, 32 relu, 1 sigmoid) in numpy, from the
# file's own weights; prints the largest difference from plugfit's predictions.
KERAS3_NUMPY='
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
x = np.load(sys.argv[2]).astype(np.float64)
for layer, act in [("dense_6", "relu"), ("dense_7", "relu"), ("dense_8", "sigmoid")]:
    g = f["model_weights"][layer]
    k, b = [np.asarray(g[n], dtype=np.float64) for n in g.attrs["weight_names"]]
    x = x @ k + b
    x = np.maximum(x, 0) if act == "relu" else 1 / (1 + np.exp(-x))
p = np.load(sys.argv[3])
assert p.shape == x.shape, (p.shape, x.shape)
d = float(np.abs(p - x).max())
print("largest difference from numpy:", d)
sys.exit(0 if d <= 1e-5 else 1)
'

case "$case_name" in
  hdf5_run_layout)
    # (a) A run writes hdf5:run.h5 in Keras's layout: h5py sees layer_names, weight_names,
    # model_config, and values bit for bit those of the same run written to dir:. A resumed run
    # continues exactly as one that never stopped.
    cat >run.json <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 16, "activation": "relu"}},
                      {"class_name": "Dropout", "config": {"rate": 0.2}},
                      {"class_name": "Dense", "config": {"units": 4, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=512,features=20,classes=4,labels=linear"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 2, "batch_size": 32, "validation_split": 0.2, "seed": 4, "verbose": 0}}
JSON
    "$plugfit" train run.json --checkpoint hdf5:run.h5 || fail "training into hdf5:run.h5"
    "$plugfit" train run.json --checkpoint dir:ckpts || fail "training into dir:ckpts"
    "$plugfit" inspect hdf5:run.h5 | tee inspect.txt || fail "inspect"
    grep -q "2 checkpoint(s), latest ckpt-0002" inspect.txt || fail "inspect does not list two checkpoints"
    inputs="synthetic:samples=7,features=20,classes=4"
    "$plugfit" predict hdf5:run.h5 --input "$inputs" --output pred.npy || fail "predict"
    "$plugfit" predict dir:ckpts --input "$inputs" --output pred_dir.npy || fail "predict (dir)"
    py - <<'PY' || fail "h5py disagrees"
import json, os, zlib, h5py, numpy as np
# The store: run.h5 holds the latest checkpoint; the other and the index are in run.h5.checkpoints/.
side = sorted(n for n in os.listdir("run.h5.checkpoints") if not n.startswith("."))
assert side == ["ckpt-0001.h5", "index.json"], side
assert json.load(open("run.h5.checkpoints/index.json"))["latest"] == "ckpt-0002"
def checkpoint(path):
    """The /plugfit group of one Keras file: its name, save order, info, and tensors by name."""
    f = h5py.File(path, "r")
    g = f["plugfit"]
    info, tensors = g.attrs["info"], g.attrs["tensors"]
    assert g.attrs["crc32"] == zlib.crc32(tensors.encode(), zlib.crc32(info.encode())), path
    values = {}
    for name, dataset, crc in json.loads(tensors):
        data = f[dataset][()]
        assert data.dtype == np.float32 and zlib.crc32(data.tobytes()) == crc, (path, name)
        values[name] = data
    return g.attrs["checkpoint"], int(g.attrs["save_seq"]), json.loads(info), values
for path, name, seq in (("run.h5", "ckpt-0002", 2), ("run.h5.checkpoints/ckpt-0001.h5", "ckpt-0001", 1)):
    got, got_seq, info, values = checkpoint(path)
    assert (got, got_seq) == (name, seq), (path, got, got_seq)
    epoch = int(name[-1])
    assert info["kind"] == "full" and info["training"]["epoch"] == epoch and info["optimizer"]["iterations"] == 13 * epoch, info
    assert values["weights/dense/kernel"].shape == (20, 16)  # Keras's (inputs, units)
    for tensor in ("weights/dense/kernel", "weights/dense/bias", "weights/dense_1/kernel", "weights/dense_1/bias",
                   "optimizer/m/dense_1/kernel", "optimizer/v/dense_1/kernel"):
        npy = np.load("ckpts/%s/tensors/%s.npy" % (name, tensor))
        assert values[tensor].shape == npy.shape and values[tensor].tobytes() == npy.tobytes(), tensor  # bit for bit
    print(path, "holds", name, "with dir:'s tensors bit for bit")
# Predictions: plugfit's from hdf5 and from dir: agree.
p, q = np.load("pred.npy"), np.load("pred_dir.npy")
assert p.tobytes() == q.tobytes()
print("h5py: the store's layout, values and checksums as expected")
PY
    # Resume: 4 epochs straight equal 2 + 2 resumed from hdf5:, bit for bit.
    sed -i 's/"epochs": 2/"epochs": 4/' run.json
    "$plugfit" train run.json --checkpoint dir:straight || fail "straight run"
    "$plugfit" train run.json --checkpoint hdf5:run.h5 --resume --verbose 1 | tee resume.txt || fail "resumed run"
    grep -q "^Resuming from hdf5:$PWD/run.h5/ckpt-0002 after epoch 2 (continuing with epoch 3)" resume.txt ||
      fail "did not resume from ckpt-0002"
    py - <<'PY' || fail "resumed run differs from the straight one"
import json, h5py, numpy as np
f = h5py.File("run.h5", "r")
assert f["plugfit"].attrs["checkpoint"] == "ckpt-0004"  # FILE is the latest checkpoint
n = 0
for name, dataset, crc in json.loads(f["plugfit"].attrs["tensors"]):
    assert f[dataset][()].tobytes() == np.load("straight/ckpt-0004/tensors/%s.npy" % name).tobytes(), name
    n += 1
assert n == 12, n
print(n, "tensors of the resumed ckpt-0004 equal the straight run's")
PY
    ;;
  hdf5_keras3_evaluate)
    need_keras_files
    # (b) Keras 3's model.save() file evaluates and predicts; predictions equal numpy's from the
    # file's own weights. A Keras layer without a plugfit equivalent is an error naming it and the file.
    copy_keras keras3_churn_full_model.h5
    py -c '
import numpy as np
r = np.random.default_rng(0)
x = r.normal(size=(100, 12)).astype(np.float32)
np.save("X.npy", x); np.save("Y.npy", (x[:, 0] > 0).astype(np.float32))'
    "$plugfit" evaluate hdf5:keras3_churn_full_model.h5 --data npy:X.npy,Y.npy | tee eval.txt || fail "evaluate"
    grep -Eq "^hdf5:$PWD/keras3_churn_full_model.h5/keras on npy:X.npy,Y.npy: loss: [0-9.]+ - accuracy: [0-9.]+$" \
      eval.txt ||
      fail "evaluate output"
    "$plugfit" predict hdf5:keras3_churn_full_model.h5 --input X.npy --output pred.npy || fail "predict"
    py -c "$KERAS3_NUMPY" keras3_churn_full_model.h5 X.npy pred.npy || fail "predictions differ from numpy's"
    # The same loss as numpy's binary cross-entropy of those predictions.
    loss=$(sed -n 's/.*loss: \([0-9.]*\).*/\1/p' eval.txt)
    py -c "
import numpy as np, sys
p = np.clip(np.load('pred.npy')[:, 0].astype(np.float64), 1e-7, 1 - 1e-7); y = np.load('Y.npy')
l = float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
print('numpy loss', l, 'plugfit', $loss)
sys.exit(0 if abs(l - $loss) < 1e-3 else 1)" || fail "loss differs"
    cp keras3_churn_full_model.h5 lstm.h5
    py -c '
import h5py, json
f = h5py.File("lstm.h5", "r+")
c = json.loads(f.attrs["model_config"])
c["config"]["layers"].insert(2, {"class_name": "ConvLSTM2D", "config": {"name": "lstm", "filters": 4}})
f.attrs["model_config"] = json.dumps(c)'
    pattern="lstm.h5: layer 2 \"lstm\" is a Keras ConvLSTM2D"
    expect_error 2 "$pattern, which plugfit does not have yet$" \
      "$plugfit" evaluate hdf5:lstm.h5 --data npy:X.npy,Y.npy
    ;;
  hdf5_keras_checkpoint_files)
    need_keras_files
    # Files Keras reads back: ModelCheckpoint's .keras, .h5 and .weights.h5 filepaths and
    # `convert --only` into a Keras file each leave one file, nothing beside it, laid out as the
    # real Keras file of that format (member by member) and read back bit for bit.
    cat >run.json <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 16, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 4, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=256,features=20,classes=4,labels=linear"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "callbacks": [{"class_name": "ModelCheckpoint", "config": {"filepath": "out/model.keras", "monitor": "loss"}},
               {"class_name": "ModelCheckpoint", "config": {"filepath": "out/model.h5", "monitor": "loss"}},
               {"class_name": "ModelCheckpoint", "config": {"filepath": "out/model.weights.h5", "monitor": "loss",
                                                             "save_weights_only": true}}],
 "fit": {"epochs": 2, "batch_size": 32, "seed": 3, "verbose": 0}}
JSON
    "$plugfit" train run.json --checkpoint dir:ckpts || fail "training"
    [ "$(ls out | tr '\n' ' ')" = "model.h5 model.keras model.weights.h5 " ] || fail "out/ holds more than the three files: $(ls out)"
    "$plugfit" convert dir:ckpts export.keras --only latest || fail "convert --only latest into export.keras"
    [ ! -e export.keras.checkpoints ] || fail "convert --only left a sidecar beside export.keras"
    py "$root/tests/cli/keras_layout_compare.py" --files "$keras_files" \
      out/model.keras out/model.h5 out/model.weights.h5 export.keras || fail "a file differs from Keras's layout"
    # Read back: each holds the epoch-2 weights and (full models) Adam state bit for bit.
    for f in out/model.keras out/model.h5 out/model.weights.h5 export.keras; do
      "$plugfit" convert "$f" "dir:back/$(basename "$f")" >/dev/null || fail "reading $f back"
    done
    py - <<'PY' || fail "a file read back differs from the run's checkpoint"
import os, numpy as np
def tensors(folder):
    root = os.path.join(folder, "tensors")
    return {os.path.relpath(os.path.join(d, f), root): np.load(os.path.join(d, f))
            for d, _, files in os.walk(root) for f in files if f.endswith(".npy")}
want = tensors("ckpts/ckpt-0002")
for name, kind in [("model.keras/model", "full"), ("model.h5/model", "full"), ("model.weights.h5/model", "weights"),
                   ("export.keras/ckpt-0002", "full")]:
    got = tensors(os.path.join("back", name))
    keys = [k for k in want if kind == "full" or k.startswith("weights")]
    assert sorted(k for k in got if kind == "full" or k.startswith("weights")) == sorted(keys), (name, sorted(got))
    for k in keys:
        assert got[k].tobytes() == want[k].tobytes() and got[k].shape == want[k].shape, (name, k)
    print(name, "bit for bit:", len(keys), "tensors")
PY
    ;;
  hdf5_keras3_resume)
    need_keras_files
    # (c) plugfit train --resume continues from the Keras file's Adam state: the step count goes
    # on from the file's iterations, and Keras's model stays in the file as checkpoint "keras".
    copy_keras keras3_churn_full_model.h5
    py -c '
import numpy as np
r = np.random.default_rng(1)
x = r.normal(size=(256, 12)).astype(np.float32)
np.save("X.npy", x); np.save("Y.npy", (x[:, 0] + x[:, 1] > 0).astype(np.float32))'
    iterations=$(py -c '
import h5py
print(int(h5py.File("keras3_churn_full_model.h5", "r")["optimizer_weights/adam/iteration"][()]))')
    echo "the file's Adam iterations: $iterations"
    # The file's architecture, with its layer names (the optimizer state is restored by name).
    cat >run.json <<JSON
{"model": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 12]}},
                      {"class_name": "Dense", "config": {"name": "dense_6", "units": 64, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"name": "dense_7", "units": 32, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"name": "dense_8", "units": 1, "activation": "sigmoid"}}]},
 "data": {"train": "npy:X.npy,Y.npy"},
 "compile": {"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 2, "batch_size": 32, "seed": 1, "verbose": 2}}
JSON
    "$plugfit" train run.json --resume --checkpoint hdf5:keras3_churn_full_model.h5 | tee out.txt || fail "resume"
    grep -q "^Resuming from hdf5:$PWD/keras3_churn_full_model.h5/keras after epoch 0 (continuing with epoch 1)" out.txt ||
      fail "did not resume from the Keras file"
    "$plugfit" inspect --json hdf5:keras3_churn_full_model.h5 >inspect.json || fail "inspect"
    # The continued run is in Keras's layout for that file, what Keras's ModelCheckpoint would leave.
    py "$root/tests/cli/keras_layout_compare.py" --files "$keras_files" keras3_churn_full_model.h5 ||
      fail "the resumed file is not in Keras's .h5 layout"
    py - "$iterations" "$keras_files/keras3_churn_full_model.h5" <<'PY' || fail "step count or Keras's checkpoint wrong"
import json, sys, h5py, numpy as np
iterations = int(sys.argv[1])
d = json.load(open("inspect.json"))
steps = {c["name"]: c["global_step"] for c in d["checkpoints"]}
print("global steps:", steps)
assert [c["name"] for c in d["checkpoints"]] == ["keras", "ckpt-0001", "ckpt-0002"], steps
assert steps["keras"] == iterations and steps["ckpt-0001"] == iterations + 8 and steps["ckpt-0002"] == iterations + 16
original = h5py.File(sys.argv[2], "r")
# FILE is the latest checkpoint; ckpt-0001 is in the sidecar, after the file's step count.
assert h5py.File("keras3_churn_full_model.h5", "r")["plugfit"].attrs["checkpoint"] == "ckpt-0002"
info = json.loads(h5py.File("keras3_churn_full_model.h5.checkpoints/ckpt-0001.h5", "r")["plugfit"].attrs["info"])
assert info["optimizer"]["iterations"] == iterations + 8, info["optimizer"]
assert info["optimizer"]["learning_rate"] == float(np.float32(original["optimizer_weights/adam/learning_rate"][()]))
PY
    # The user's file is kept byte for byte as the checkpoint "keras", still listed and loadable.
    cmp keras3_churn_full_model.h5.checkpoints/keras.h5 "$keras_files/keras3_churn_full_model.h5" ||
      fail "the Keras file was not kept byte for byte"
    "$plugfit" predict hdf5:keras3_churn_full_model.h5.checkpoints/keras.h5 --input X.npy --output kept.npy ||
      fail "predict from the kept Keras file"
    py -c "$KERAS3_NUMPY" "$keras_files/keras3_churn_full_model.h5" X.npy kept.npy || fail "the kept file predicts otherwise"
    echo "Keras's file kept byte for byte as checkpoint \"keras\""
    ;;
  hdf5_keras2_weights)
    need_keras_files
    # (d) Keras 2's save_weights() file loads by position into the matching plugfit model (units
    # read from the file) and predicts like numpy from the file's weights; a model with another
    # layer count fails with Keras's text.
    copy_keras keras2_fraud_weights_only.h5
    py - <<'PY' || fail "writing the run file"
import json, h5py, numpy as np
f = h5py.File("keras2_fraud_weights_only.h5", "r")
layers, dense = [], []
for name in [n.decode() for n in f.attrs["layer_names"]]:
    weights = [w.decode() for w in f[name].attrs["weight_names"]]
    if not weights:
        layers.append({"class_name": "Dropout", "config": {"rate": 0.5}})
        continue
    kernel = f[name][weights[0]]
    dense.append(name)
    layers.append({"class_name": "Dense", "config": {"units": kernel.shape[1], "activation": "relu"}})
layers[-1]["config"]["activation"] = "sigmoid"
inputs = f[dense[0]][f[dense[0]].attrs["weight_names"][0].decode()].shape[0]
layers[0]["config"]["input_shape"] = [inputs]
print("model:", [(l["class_name"], l["config"].get("units")) for l in layers])
x = np.random.default_rng(2).normal(size=(64, inputs)).astype(np.float32)
np.save("X.npy", x); np.save("Y.npy", (x[:, 0] > 0).astype(np.float32))
# Learning rate 0: the epoch that writes a checkpoint leaves the loaded weights as they are.
run = {"model": {"layers": layers}, "data": {"train": "npy:X.npy,Y.npy"},
       "load_weights": "hdf5:keras2_fraud_weights_only.h5",
       "compile": {"optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.0}}, "loss": "binary_crossentropy"},
       "fit": {"epochs": 1, "batch_size": 32, "seed": 1, "verbose": 1}}
json.dump(run, open("run.json", "w"))
del run["model"]["layers"][-2]  # one Dense fewer
json.dump(run, open("wrong.json", "w"))
PY
    "$plugfit" train run.json --checkpoint dir:ckpts | tee out.txt || fail "training with load_weights"
    grep -q "^Loaded weights from hdf5:$PWD/keras2_fraud_weights_only.h5/keras" out.txt || fail "no load message"
    "$plugfit" predict dir:ckpts --input X.npy --output pred.npy || fail "predict"
    py - <<'PY' || fail "the loaded model does not predict like numpy"
import h5py, numpy as np
f = h5py.File("keras2_fraud_weights_only.h5", "r")
x = np.load("X.npy").astype(np.float64)
dense = [n.decode() for n in f.attrs["layer_names"] if len(f[n.decode()].attrs["weight_names"])]
for i, name in enumerate(dense):
    k, b = [np.asarray(f[name][w.decode()], dtype=np.float64) for w in f[name].attrs["weight_names"]]
    x = x @ k + b
    x = np.maximum(x, 0) if i < len(dense) - 1 else 1 / (1 + np.exp(-x))
p = np.load("pred.npy")
d = float(np.abs(p - x).max())
print("largest difference from numpy:", d)
assert p.shape == x.shape and d <= 1e-5
PY
    pattern="^plugfit: error: Layer count mismatch when loading weights from file."
    expect_error 2 "$pattern Model expected 4 layers, found 5 saved layers.$" \
      "$plugfit" train wrong.json
    ;;
  hdf5_keras_eras)
    need_keras_files
    # (e) The Dense-only full models of every era (Keras 1.2, 2.2, 2.3, tf.keras 2.4, 2.15):
    # inspect lists them, predict equals numpy from the file's own weights (Keras 1 keys,
    # VarianceScaling, MeanMetricWrapper, Custom>Adam read), and --resume continues from the
    # file's weights: with a warning naming why when the optimizer state is not read, never from
    # random weights. The run's learning rate is 0, so the resumed weights are the file's.
    reference="$root/tests/cli/keras_dense_reference.py"
    for file in h01_keras1.2.2_full_iris.h5 h04_keras2.2.2_full_crypto.h5 h05_keras2.3.1_full_airbnb.h5 \
                h06_tfkeras2.4.0_full_heart.h5 h08_tfkeras2.15.0_full_digits.h5; do
      copy_keras "$file"
      "$plugfit" inspect "hdf5:$file" | tee inspect.txt || fail "inspect $file"
      grep -Eq "^  keras +(full|weights) .*\[(InputLayer,)?Dense," inspect.txt || fail "inspect does not list $file's layers"
      py "$reference" run "$file" X.npy Y.npy run.json || fail "writing the run file for $file"
      "$plugfit" predict "hdf5:$file" --input X.npy --output pred.npy || fail "predict $file"
      py "$reference" predict "$file" X.npy pred.npy || fail "$file predicts unlike numpy"
      # Inputs the model does not saturate on: where probabilities clip, float32 and each era's
      # epsilon placement differ by more than 1e-5, and say nothing of the formulas.
      py "$reference" run "$file" Xe.npy Ye.npy unused.json step || fail "evaluation data for $file"
      "$plugfit" evaluate "hdf5:$file" --data npy:Xe.npy,Ye.npy --json >eval.json || fail "evaluate $file"
      py "$reference" evaluate "$file" Xe.npy Ye.npy eval.json || fail "$file evaluates unlike Keras's formulas in numpy"
      "$plugfit" train run.json --resume --checkpoint "hdf5:$file" >out.txt 2>err.txt || fail "resume $file: $(cat err.txt)"
      cat err.txt
      # With the file's optimizer state the file's learning rate (not the run's 0) applies: the
      # one-step cases below check those resumes exactly.
      if grep -Eq "^  keras +full" inspect.txt; then
        grep -q "^Resuming from hdf5:$PWD/$file/keras" out.txt || fail "$file did not resume with its optimizer state"
        continue
      else
        grep -Eq "^plugfit: warning: hdf5:$PWD/$file/keras holds weights but no optimizer state to resume \((not read|not saved): .+\); continuing from its weights with a fresh optimizer at epoch 0$" err.txt ||
          fail "$file: no warning saying why the optimizer state is not resumed"
      fi
      "$plugfit" predict "hdf5:$file" --input X.npy --output resumed.npy 2>/dev/null || fail "predict after resuming $file"
      py "$reference" predict "$keras_files/$file" X.npy resumed.npy || fail "resuming $file discarded its weights"
    done
    # One full-batch --resume step from each file with Adam state (Keras 2.2 anonymous variables,
    # tf.keras 2.4 named slots, tf.keras 2.15 Adam/m/..., Keras 3) equals one Keras Adam step in
    # numpy from the file's weights, slots and step count; inspect --json shows that step count.
    # Keras 2.3's RMSprop (h05) divides by sqrt(a) + epsilon: the run names that form, and a run
    # whose RMSprop is tf.keras's / Keras 3's is refused rather than resumed under another update.
    for file in h04_keras2.2.2_full_crypto.h5 h05_keras2.3.1_full_airbnb.h5 h06_tfkeras2.4.0_full_heart.h5 \
                h08_tfkeras2.15.0_full_digits.h5 keras3_churn_full_model.h5; do
      copy_keras "$file"
      "$plugfit" inspect --json "hdf5:$file" >inspect.json || fail "inspect --json $file"
      py - "$file" <<'PY' || fail "inspect --json does not show $file's step count"
import json, sys, h5py
g = h5py.File(sys.argv[1], "r")["optimizer_weights"]
names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]  # byte or str, by era
steps = [int(g[n][()]) for n in names if n.split("/")[-1].split(":")[0] in ("iter", "iteration", "iterations")]
shown = {c["name"]: c["global_step"] for c in json.load(open("inspect.json"))["checkpoints"]}
print(sys.argv[1], "step count", steps, "inspect", shown)
assert shown == {"keras": steps[0]}
PY
      py "$reference" run "$file" X.npy Y.npy run.json step || fail "writing the one-step run file for $file"
      if [ "$file" = h05_keras2.3.1_full_airbnb.h5 ]; then
        py -c 'import json; r = json.load(open("run.json")); r["compile"]["optimizer"] = "rmsprop"; json.dump(r, open("plain.json", "w"))'
        expect_error 2 "^plugfit: error: $PWD/$file: the checkpoint's RMSprop state was built with Keras <= 2.3's update .epsilon outside the square root.; set \"epsilon_outside_sqrt\": true in the run's RMSprop config to resume it" \
          "$plugfit" train plain.json --resume --checkpoint "hdf5:$file"
        cmp "$file" "$keras_files/$file" || fail "a refused resume changed $file"
      fi
      "$plugfit" train run.json --resume --checkpoint "hdf5:$file" >out.txt || fail "resume one step from $file"
      grep -q "^Resuming from hdf5:$PWD/$file/keras" out.txt || fail "$file did not resume with its Adam state"
      "$plugfit" predict "hdf5:$file" --input X.npy --output stepped.npy >/dev/null || fail "predict after one step"
      py "$reference" step "$keras_files/$file" X.npy Y.npy stepped.npy || fail "one step from $file is not Keras's"
    done
    # Optimizer state that cannot be read (h04 copies: optimizer_weights deleted; one slot of the
    # wrong shape): inspect says why, and --resume continues from the file's weights (never
    # exit 0 after discarding them), with one warning naming the reason.
    py "$reference" run "$keras_files/h04_keras2.2.2_full_crypto.h5" X.npy Y.npy run.json || fail "h04's run file"
    for variant in deleted:'not saved: the file has no optimizer_weights group' \
                   wrong_shape:'not read: the "m" slot 0 has shape \(3, 7\) but the weight weights/dense_1/kernel has \(6, 512\)'; do
      file="h04_${variant%%:*}.h5"
      cp "$keras_files/h04_keras2.2.2_full_crypto.h5" "$file" && chmod u+w "$file"
      py - "$file" "${variant%%:*}" <<'PY' || fail "altering $file"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+")
if sys.argv[2] == "deleted":
    del f["optimizer_weights"]
else:
    g = f["optimizer_weights"]
    first = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]][1]  # after iterations
    del g[first]
    g[first] = np.zeros((3, 7), np.float32)
PY
      "$plugfit" inspect "hdf5:$file" >inspect.txt || fail "inspect $file"
      grep -Eq "^    optimizer state: ${variant#*:}$" inspect.txt || fail "inspect does not say why $file's state is not read: $(cat inspect.txt)"
      "$plugfit" train run.json --resume --checkpoint "hdf5:$file" >out.txt 2>err.txt || fail "resume $file: $(cat err.txt)"
      grep -Eq "^plugfit: warning: hdf5:$PWD/$file/keras holds weights but no optimizer state to resume \(${variant#*:}\); continuing from its weights with a fresh optimizer at epoch 0$" err.txt ||
        fail "$file: no warning saying why: $(cat err.txt)"
      "$plugfit" predict "hdf5:$file" --input X.npy --output resumed.npy >/dev/null || fail "predict after resuming $file"
      py "$reference" predict "$keras_files/h04_keras2.2.2_full_crypto.h5" X.npy resumed.npy || fail "resuming $file discarded its weights"
      echo "$file: resumed from its weights: $(cat err.txt)"
    done
    # Training-only metadata plugfit cannot use (copies of h04 altered with h5py): predict and
    # evaluate say once what they ignore and go on, with the file's weights; a resume refuses a
    # regularizer or constraint (training would drop it), naming the layer and field.
    cat >alter.py <<'PY'
import json, shutil, sys, h5py
src, dst, what = sys.argv[1:4]
shutil.copy(src, dst)
f = h5py.File(dst, "r+")
m, t = json.loads(f.attrs["model_config"]), json.loads(f.attrs["training_config"])
dense = [l for l in m["config"] if l["class_name"] == "Dense"][0]["config"]  # Keras 2.2: a bare list
if what == "metric": t["metrics"] = ["accuracy", "foo_metric"]
if what == "l2": dense["kernel_regularizer"] = {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}}
if what == "optimizer": t["optimizer_config"]["class_name"] = "Nadam"
if what == "initializer": dense["kernel_initializer"] = {"class_name": "Identity", "config": {"gain": 1.0}}
if what == "dtype": dense["dtype"] = {"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}
f.attrs["model_config"], f.attrs["training_config"] = json.dumps(m), json.dumps(t)
PY
    py "$reference" run "$keras_files/h04_keras2.2.2_full_crypto.h5" X.npy Y.npy run.json || fail "h04's run file"
    for what in metric:'the metric "foo_metric"' l2:'layer 0 "dense_1" kernel_regularizer L1L2' \
                optimizer:'the optimizer Nadam .plugfit lacks it.' initializer:'layer 0 "dense_1" kernel_initializer Identity' \
                dtype:'layer 0 "dense_1" dtype mixed_float16'; do
      file="${what%%:*}.h5"
      py alter.py "$keras_files/h04_keras2.2.2_full_crypto.h5" "$file" "${what%%:*}" || fail "altering h04"
      warning="^plugfit: warning: $PWD/$file: ignoring training-only settings plugfit cannot use: ${what#*:}$"
      "$plugfit" predict "hdf5:$file" --input X.npy --output pred.npy >/dev/null 2>err.txt || fail "predict $file: $(cat err.txt)"
      [ "$(wc -l <err.txt)" -eq 1 ] && grep -Eq "$warning" err.txt || fail "predict $file: not one warning /$warning/: $(cat err.txt)"
      py "$reference" predict "$file" X.npy pred.npy || fail "$file predicts unlike numpy"
      "$plugfit" evaluate "hdf5:$file" --data npy:X.npy,Y.npy >/dev/null 2>err.txt || fail "evaluate $file: $(cat err.txt)"
      [ "$(wc -l <err.txt)" -eq 1 ] && grep -Eq "$warning" err.txt || fail "evaluate $file: not one warning: $(cat err.txt)"
      "$plugfit" inspect "hdf5:$file" >/dev/null 2>err.txt && [ ! -s err.txt ] || fail "inspect $file: $(cat err.txt)"
    done
    cp l2.h5 l2_before.h5
    expect_error 2 "^plugfit: error: $PWD/l2.h5: layer 0 \"dense_1\" has a kernel_regularizer .*, which plugfit cannot apply; training from its weights would drop it$" \
      "$plugfit" train run.json --resume --checkpoint hdf5:l2.h5
    cmp l2.h5 l2_before.h5 || fail "a refused resume changed l2.h5"
    # The sequence models (LSTM, GRU, Conv1D, MaxPooling1D) open in inspect (Keras class names,
    # weights with shapes, step count read). (Their predictions and resumed training are
    # keras_seq_cases.sh's; the image models w11 and w13 are hdf5_keras_image_models'.)
    for file in w06_2308087369_lstm_model.h5 w21_Daheeyah_gru_model.h5 w28_2308087369_cnn_lstm_model_Yulara.h5; do
      copy_keras "$file"
      "$plugfit" inspect "hdf5:$file" >inspect.txt || fail "inspect $file"
      "$plugfit" inspect --json "hdf5:$file" >inspect.json || fail "inspect --json $file"
      py - "$file" <<'PY' || fail "inspect does not list $file as Keras has it"
import json, sys, h5py
f = h5py.File(sys.argv[1], "r")
layers = [l["class_name"] for l in json.loads(f.attrs["model_config"])["config"]["layers"]]
mw = f["model_weights"]
text = lambda v: v.decode() if isinstance(v, bytes) else v
shapes = [list(mw[l][w].shape) for l in map(text, mw.attrs["layer_names"]) for w in map(text, mw[l].attrs["weight_names"])]
g = f["optimizer_weights"]
names = [text(n) for n in g.attrs["weight_names"]]
step = [int(g[n][()]) for n in names if n.split("/")[-1].split(":")[0] in ("iter", "iteration", "iterations")][0]
c = json.load(open("inspect.json"))["checkpoints"][0]
assert c["layer_types"] == layers, (c["layer_types"], layers)
assert [w["shape"] for w in c["weights"]] == shapes, c["weights"]
assert c["global_step"] == step and c["keras"]["optimizer_iterations"] == step, (c["global_step"], step)
text_out = open("inspect.txt").read()
assert "[" + ",".join(layers) + "]" in text_out and "    weights: " in text_out, text_out
print(sys.argv[1], layers, len(shapes), "weights, step", step)
PY
    done
    # The weights-only files open in inspect too, their weights listed with shapes.
    for file in keras2_fraud_weights_only.h5 x1_keras2.3.1_wo_options.h5; do
      copy_keras "$file"
      "$plugfit" inspect "hdf5:$file" >inspect.txt || fail "inspect $file"
      grep -Eq "^  keras +weights .*" inspect.txt && grep -Eq "^    weights: .*kernel \([0-9]+, [0-9]+\)" inspect.txt ||
        fail "inspect does not list $file's weights: $(cat inspect.txt)"
    done
    # x1: Keras 2.3's model.to_json() (elu, interleaved Dropout and Activation) is the run file's
    # model and its weights-only .h5 loads into it; predictions equal numpy's from the file.
    copy_keras x1_model.json
    copy_keras x1_keras2.3.1_wo_options.h5
    py -c '
import numpy as np
np.save("x5.npy", np.random.default_rng(5).normal(size=(32, 5)).astype(np.float32)); np.save("y5.npy", np.zeros((32, 1), np.float32))'
    cat >x1run.json <<'JSON'
{"model": "x1_model.json", "load_weights": "hdf5:x1_keras2.3.1_wo_options.h5", "data": {"train": "npy:x5.npy,y5.npy"},
 "compile": {"optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.0}}, "loss": "mse"},
 "fit": {"epochs": 1, "batch_size": 32, "seed": 1, "verbose": 0}}
JSON
    "$plugfit" train x1run.json --checkpoint dir:x1 || fail "x1: the to_json model with the weights file"
    "$plugfit" predict dir:x1 --input x5.npy --output x1pred.npy || fail "predict x1"
    py "$reference" predict x1_keras2.3.1_wo_options.h5 x5.npy x1pred.npy --model-json x1_model.json || fail "x1 predicts unlike numpy"
    # A Keras file whose weights do not fit the run's model is an error, never random weights.
    copy_keras h04_keras2.2.2_full_crypto.h5
    py -c '
import json; r = json.load(open("run.json")); r["model"]["layers"] = r["model"]["layers"][:2]
r["model"]["layers"][1]["config"]["units"] = 3; json.dump(r, open("wrong.json", "w"))'
    expect_error 2 "Layer count mismatch when loading weights from file" \
      "$plugfit" train wrong.json --resume --checkpoint hdf5:h04_keras2.2.2_full_crypto.h5
    ;;
  hdf5_keras3_files)
    need_keras_files
    # (f) Keras 3's own formats, named by bare paths: a .weights.h5 loads by position into the
    # matching model, a .keras archive inspects, predicts, evaluates and resumes (one Adam step
    # from its own state, as Keras 3 takes it), all against numpy from the file's own arrays.
    reference="$root/tests/cli/keras3_reference.py"
    h10=h10_keras3_wo_churn.weights.h5
    copy_keras $h10
    py "$reference" run $h10 X.npy Y.npy run.json || fail "writing the run file for $h10"
    py -c "import json; r = json.load(open('run.json')); r['load_weights'] = '$h10'; json.dump(r, open('run.json', 'w'))"
    "$plugfit" train run.json --checkpoint dir:h10 | tee out.txt || fail "training with load_weights $h10"
    grep -q "^Loaded weights from hdf5:$PWD/$h10/keras" out.txt || fail "no load message"
    "$plugfit" predict dir:h10 --input X.npy --output pred.npy || fail "predict after loading $h10"
    py "$reference" predict $h10 X.npy pred.npy relu,relu,sigmoid || fail "$h10 does not predict like numpy"
    w03=w03_AdityaB2731_model.keras
    copy_keras $w03
    for file in $h10 $w03; do
      "$plugfit" inspect --json $file >inspect.json || fail "inspect --json $file"
      py - $file <<'PY' || fail "inspect --json does not show $file's step count"
import io, json, sys, zipfile, h5py
path = sys.argv[1]
f = h5py.File(io.BytesIO(zipfile.ZipFile(path).read("model.weights.h5")) if zipfile.is_zipfile(path) else path, "r")
shown = {c["name"]: c["global_step"] for c in json.load(open("inspect.json"))["checkpoints"]}
print(path, "step count", int(f["optimizer/vars/0"][()]), "inspect", shown)
assert shown == {"keras": int(f["optimizer/vars/0"][()])}
PY
    done
    "$plugfit" inspect $w03 | tee inspect.txt || fail "inspect $w03"
    grep -Eq "^  keras +full .*\[InputLayer,Dense,Dense\]" inspect.txt || fail "inspect does not list $w03's layers"
    py "$reference" run $w03 X.npy Y.npy run.json || fail "writing the run file for $w03"
    "$plugfit" predict $w03 --input X.npy --output pred.npy || fail "predict $w03"
    py "$reference" predict $w03 X.npy pred.npy || fail "$w03 does not predict like numpy"
    "$plugfit" evaluate $w03 --data npy:X.npy,Y.npy --json >eval.json || fail "evaluate $w03"
    loss=$(py -c 'import json; print(repr(json.load(open("eval.json"))["loss"]))')
    py "$reference" loss $w03 X.npy Y.npy "$loss" || fail "$w03's loss is not numpy's from the file's weights"
    # One full-batch step resumed from the archive's Adam state, the archive itself the location:
    # the continued run goes into it (the original kept as w03...keras.checkpoints/keras.keras).
    py "$reference" run $w03 X.npy Y.npy step.json step || fail "writing the one-step run file"
    "$plugfit" train step.json --resume --checkpoint $w03 >out.txt || fail "resume one step from $w03"
    grep -q "^Resuming from hdf5:$PWD/$w03/keras" out.txt || fail "$w03 did not resume with its Adam state"
    cmp -s "$keras_files/$w03" "$w03.checkpoints/keras.keras" || fail "the original archive was not kept byte for byte"
    "$plugfit" predict $w03 --input X.npy --output stepped.npy >/dev/null || fail "predict after one step"
    py "$reference" step "$keras_files/$w03" X.npy Y.npy stepped.npy || fail "one step from $w03 is not Keras 3's"
    py "$root/tests/cli/keras_layout_compare.py" --files "$keras_files" $w03 || fail "the resumed archive is not Keras's layout"
    # The sequence archives inspect (an HDF5 file named .keras is read as HDF5); their
    # predictions are keras_seq_cases.sh's.
    for file in w16_Ashishkaus04_lstm_model.keras w02_AdamVenroy_model.keras; do
      copy_keras $file
      "$plugfit" inspect $file >inspect.txt 2>&1 || fail "inspect $file: $(cat inspect.txt)"
      grep -q "keras .*\[InputLayer," inspect.txt || fail "inspect $file does not list its layers: $(cat inspect.txt)"
    done
    # Bad inputs: one sentence naming the file and what is wrong, exit 2.
    py - <<'PY' || fail "writing the bad files"
import zipfile, h5py
with zipfile.ZipFile("notes.keras", "w") as z:
    z.writestr("notes.txt", "no model here")
data = open("w03_AdityaB2731_model.keras", "rb").read()
open("half.keras", "wb").write(data[:len(data) // 2])
with h5py.File("other.h5", "w") as f:
    f["data"] = [1.0, 2.0, 3.0]
open("text.keras", "w").write("not a model\n")
PY
    expect_error 2 "^plugfit: error: $PWD/notes.keras is a zip archive but not a Keras archive \(it has no config.json\)$" \
      "$plugfit" inspect notes.keras
    expect_error 2 "^plugfit: error: $PWD/half.keras is a truncated zip archive: " "$plugfit" predict half.keras --input X.npy --output no.npy
    expect_error 2 "^plugfit: error: the checkpoint location hdf5:nope.h5 does not exist" "$plugfit" inspect hdf5:nope.h5
    expect_error 2 "^plugfit: error: the checkpoint location hdf5:nope.keras does not exist" "$plugfit" evaluate nope.keras --data npy:X.npy,Y.npy
    expect_error 2 "^plugfit: error: $PWD/other.h5 is an HDF5 file but no Keras file " "$plugfit" inspect other.h5
    expect_error 2 "^plugfit: error: $PWD/text.keras is neither an HDF5 file nor a zip archive" "$plugfit" inspect text.keras
    expect_error 2 "^plugfit: error: the dir: location $PWD/X.npy is a file, not a folder" "$plugfit" inspect X.npy
    # A truncated file of a plugfit store (its sidecar beside it) is damage (exit 1); the same
    # bytes given alone are bad input (exit 2).
    "$plugfit" train run.json --checkpoint run.h5 >/dev/null || fail "training into the bare path run.h5"
    [ -f run.h5.checkpoints/index.json ] || fail "the store keeps no index beside run.h5"
    py -c "d = open('run.h5', 'rb').read(); open('cut.h5', 'wb').write(d[:len(d) // 2]); open('run.h5', 'wb').write(d[:len(d) // 2])"
    expect_error 2 "^plugfit: error: $PWD/cut.h5 is not a whole HDF5 file \(truncated or damaged\?\)" "$plugfit" predict cut.h5 --input X.npy --output no.npy
    expect_error 2 "^plugfit: error: .*$PWD/run.h5 is not a whole HDF5 file \(truncated or damaged\?\)" "$plugfit" predict run.h5#latest --input X.npy --output no.npy
    ;;
  hdf5_keras_image_models)
    need_keras_files
    # (h) The image models: w11 (Keras 3.10 .h5: Conv2D, MaxPooling2D, Flatten, Dense), w13
    # (tf.keras 2.4 .h5: Conv2D, MaxPooling2D, BatchNormalization x3) and w05 (Keras 3.5 .keras:
    # Dense, BatchNormalization) predict as numpy computes them from the files' own weights
    # (tests/cli/keras_image_reference.py, within 1e-4); w13's grayscale inputs are fed as Keras
    # users feed them, (n, 130, 13) to its (130, 13, 1) input. Then one --resume step of w11 from
    # its own Adam state, checked against PyTorch and Keras's Adam (keras_image_reference.py).
    reference="$root/tests/cli/keras_image_reference.py"
    for spec in w11_23csu404_cnn_model.h5:hdf5: w13_BaduBlogger_cnn_model.h5:hdf5:squeeze w05_123Cryptic_model.keras::; do
      IFS=: read -r file scheme squeeze <<<"$spec"
      location=${scheme:+$scheme:}$file
      copy_keras "$file"
      "$plugfit" inspect "$location" >inspect.txt 2>&1 || fail "inspect $file: $(cat inspect.txt)"
      grep -q "keras .*\[InputLayer," inspect.txt || fail "inspect $file does not list its layers: $(cat inspect.txt)"
      py "$reference" inputs "$file" "X_$file.npy" 16 $squeeze || fail "writing inputs for $file"
      "$plugfit" predict "$location" --input "X_$file.npy" --output "pred_$file.npy" >/dev/null 2>err.txt ||
        fail "predict $file: $(cat err.txt)"
      py "$reference" predict "$file" "X_$file.npy" "pred_$file.npy" || fail "$file does not predict like numpy"
      cmp "$file" "$keras_files/$file" || fail "predict changed $file"
    done
    w11=w11_23csu404_cnn_model.h5
    iterations=$(py -c "import h5py; print(int(h5py.File('$w11', 'r')['optimizer_weights/adam/iteration'][()]))")
    echo "w11's Adam iterations: $iterations"
    py "$reference" labels $w11 "X_$w11.npy" Y.npy || fail "writing labels for $w11"
    # w11's architecture with its layer names (the optimizer state is restored by name); one
    # full-batch step.
    cat >run.json <<JSON
{"model": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 32, 32, 3]}},
   {"class_name": "Conv2D", "config": {"name": "conv2d", "filters": 32, "kernel_size": [3, 3], "activation": "relu"}},
   {"class_name": "MaxPooling2D", "config": {"name": "max_pooling2d", "pool_size": [2, 2]}},
   {"class_name": "Conv2D", "config": {"name": "conv2d_1", "filters": 64, "kernel_size": [3, 3], "activation": "relu"}},
   {"class_name": "MaxPooling2D", "config": {"name": "max_pooling2d_1", "pool_size": [2, 2]}},
   {"class_name": "Flatten", "config": {"name": "flatten"}},
   {"class_name": "Dense", "config": {"name": "dense", "units": 64, "activation": "relu"}},
   {"class_name": "Dense", "config": {"name": "dense_1", "units": 10, "activation": "softmax"}}]},
 "data": {"train": "npy:X_$w11.npy,Y.npy"},
 "compile": {"optimizer": "adam", "loss": "categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 1, "batch_size": 16, "seed": 1, "verbose": 2}}
JSON
    "$plugfit" train run.json --resume --checkpoint "hdf5:$w11" | tee out.txt || fail "resume $w11"
    grep -q "^Resuming from hdf5:$PWD/$w11/keras" out.txt || fail "$w11 did not resume with its Adam state"
    "$plugfit" inspect --json "hdf5:$w11" >inspect.json || fail "inspect after the resumed step"
    py - "$iterations" <<'PY' || fail "the resumed run's step count is not w11's plus one per epoch"
import json, sys
iterations = int(sys.argv[1])
steps = {c["name"]: c["global_step"] for c in json.load(open("inspect.json"))["checkpoints"]}
print("global steps:", steps)
assert steps.pop("keras") == iterations, steps
assert steps and sorted(steps.values()) == [iterations + i for i in range(1, len(steps) + 1)], steps
PY
    # The numbers: the step's weights, momentum and velocity are those PyTorch's gradient of the
    # batch and Keras 3's Adam update make from the file's own weights and state (one batch is
    # the whole data set, so the order of its samples cannot matter), within 1e-5 relative.
    py -c 'import torch' 2>/dev/null || fail "Debian's python3-torch is needed (scripts/setup python3-torch installs it)"
    "$plugfit" convert "hdf5:$w11" stepped.h5 --only latest >/dev/null || fail "convert the resumed step to stepped.h5"
    py "$reference" adam_step "$keras_files/$w11" "X_$w11.npy" Y.npy stepped.h5 ||
      fail "the resumed step is not Keras's Adam step on PyTorch's gradient"
    ;;
  hdf5_keras_image_round_trip)
    # (i) A model of the image layers, trained on grayscale images (n, 12, 12) fed to its
    # (12, 12, 1) input, written as Keras 3 files (.keras, .h5): each predicts as the run does,
    # config.json's build shapes follow Keras's shape rules, and the optimizer keeps slots for the
    # trainable weights only (BatchNormalization's moving statistics have none).
    py -c '
import numpy as np
r = np.random.default_rng(0)
np.save("X.npy", r.uniform(0, 255, size=(64, 12, 12)).astype(np.uint8))
np.save("Y.npy", (np.arange(64) % 3).astype(np.float32))'
    cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 12, 12, 1]}},
  {"class_name": "Rescaling", "config": {"scale": 0.5}},
  {"class_name": "Conv2D", "config": {"filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"}},
  {"class_name": "BatchNormalization", "config": {}},
  {"class_name": "MaxPooling2D", "config": {"pool_size": 2}},
  {"class_name": "DepthwiseConv2D", "config": {"kernel_size": 3, "depth_multiplier": 2}},
  {"class_name": "SeparableConv2D", "config": {"filters": 3, "kernel_size": 2}},
  {"class_name": "GlobalAveragePooling2D", "config": {}},
  {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
 "data": {"train": "npy:X.npy,Y.npy"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 2, "batch_size": 16, "seed": 3, "verbose": 0}}
JSON
    "$plugfit" train run.json --checkpoint dir:ck || fail "training the image model on (n, 12, 12) images"
    "$plugfit" predict dir:ck --input X.npy --output run.npy >/dev/null || fail "predict from dir:ck"
    for file in m.keras m.h5; do
      "$plugfit" convert dir:ck $file --only latest >/dev/null || fail "convert into $file"
      "$plugfit" predict $file --input X.npy --output pred.npy >/dev/null || fail "predict from $file"
      cmp <(py -c 'import numpy as np; print(np.load("run.npy").tobytes().hex())') \
          <(py -c 'import numpy as np; print(np.load("pred.npy").tobytes().hex())') || fail "$file predicts otherwise"
    done
    py - <<'PY' || fail "m.keras is not laid out as Keras 3 lays out these layers"
import io, json, zipfile, h5py
z = zipfile.ZipFile("m.keras")
layers = json.loads(z.read("config.json"))["config"]["layers"]
shapes = {l["class_name"]: (l.get("build_config") or {}).get("input_shape") for l in layers}
print(shapes)
assert shapes["BatchNormalization"] == [None, 12, 12, 4] and shapes["DepthwiseConv2D"] == [None, 6, 6, 4], shapes
assert shapes["SeparableConv2D"] == [None, 4, 4, 8] and shapes["Dense"] == [None, 3], shapes
assert shapes["MaxPooling2D"] is None and shapes["GlobalAveragePooling2D"] is None, shapes
f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
assert [f["layers/separable_conv2d/vars"][str(i)].shape for i in range(3)] == [(2, 2, 8, 1), (1, 1, 8, 3), (3,)]
assert f["layers/depthwise_conv2d/vars/0"].shape == (3, 3, 4, 2)
# iterations, learning rate, then m and v of 11 trainable weights (BatchNormalization: gamma, beta).
assert len(f["optimizer/vars"]) == 2 + 2 * 11, len(f["optimizer/vars"])
PY
    ;;
  hdf5_image_backends_round_trip)
    # (j) Every layer with weights or state (Normalization, Conv2D, BatchNormalization,
    # DepthwiseConv2D, Conv2DTranspose, SeparableConv2D, Dense) among the shaping ones
    # (ZeroPadding2D, Cropping2D, AveragePooling2D, bilinear UpSampling2D, GlobalMaxPooling2D),
    # trained, then copied into every backend and Keras format and back into a fresh dir:: each
    # keeps weights, Adam's slots, the moving statistics and the record bit for bit, predicts bit
    # for bit, and one more epoch resumed from it equals a run that never stopped. Keras's own
    # parts of the files (the /plugfit group removed) keep the same weights and slots, and a
    # .weights.h5 loads into the run file's model (its groups matched by Keras 3's class names).
    py -c '
import numpy as np
r = np.random.default_rng(0)
np.save("X.npy", r.uniform(0, 255, size=(64, 12, 12)).astype(np.uint8))
np.save("Y.npy", (np.arange(64) % 3).astype(np.float32))'
    cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 12, 12, 1]}},
  {"class_name": "Normalization", "config": {}},
  {"class_name": "ZeroPadding2D", "config": {"padding": 1}},
  {"class_name": "Conv2D", "config": {"filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"}},
  {"class_name": "BatchNormalization", "config": {}},
  {"class_name": "Cropping2D", "config": {"cropping": [[1, 1], [1, 1]]}},
  {"class_name": "AveragePooling2D", "config": {"pool_size": 2}},
  {"class_name": "DepthwiseConv2D", "config": {"kernel_size": 3, "depth_multiplier": 2}},
  {"class_name": "Conv2DTranspose", "config": {"filters": 3, "kernel_size": 3, "strides": 2, "activation": "relu"}},
  {"class_name": "UpSampling2D", "config": {"size": 2, "interpolation": "bilinear"}},
  {"class_name": "SeparableConv2D", "config": {"filters": 3, "kernel_size": 2}},
  {"class_name": "GlobalMaxPooling2D", "config": {}},
  {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
 "data": {"train": "npy:X.npy,Y.npy"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 2, "batch_size": 16, "seed": 3, "verbose": 0}}
JSON
    "$plugfit" train run.json --checkpoint dir:ck || fail "training the image model"
    "$plugfit" train run.json --epochs 3 --checkpoint dir:straight || fail "the straight three-epoch run"
    "$plugfit" predict dir:ck --input X.npy --output run.npy >/dev/null || fail "predict from dir:ck"
    locations="sqlite:s.db hdf5:s.h5 dir:d m.keras m.h5 m.weights.h5"
    for location in $locations; do
      n=$(tr ':.' '__' <<<"$location")
      "$plugfit" convert dir:ck "$location" --only latest >/dev/null || fail "convert dir:ck into $location"
      "$plugfit" convert "$location" "dir:back_$n" >/dev/null || fail "convert $location back into dir:back_$n"
      "$plugfit" predict "$location" --input X.npy --output "pred_$n.npy" >/dev/null || fail "predict from $location"
      same_bytes run.npy "pred_$n.npy" || fail "$location predicts otherwise than the run"
    done
    # Keras's parts alone: each file without plugfit's /plugfit group (what Keras reads).
    keras_parts_only
    for file in k.h5 k.keras; do
      "$plugfit" convert $file "dir:keras_$file" >/dev/null || fail "reading $file (Keras's parts only)"
      "$plugfit" predict $file --input X.npy --output pred_$file.npy >/dev/null || fail "predict from $file"
      same_bytes run.npy pred_$file.npy || fail "$file predicts otherwise than the run"
    done
    # k.weights.h5 into the run file's model, then one epoch: as from dir:ck's own weights.
    one_epoch_after_load k.weights.h5 dir:ck#latest
    py - <<'PY' || fail "a copy read back differs from the run's checkpoint"
import json, os, numpy as np
def only(folder):
    names = [n for n in os.listdir(folder) if n != "index.json"]
    assert len(names) == 1, (folder, names)
    return os.path.join(folder, names[0])
def tensors(checkpoint):
    root = os.path.join(checkpoint, "tensors")
    return {os.path.relpath(os.path.join(d, f), root)[:-4]: np.load(os.path.join(d, f))
            for d, _, files in os.walk(root) for f in files if f.endswith(".npy")}
def same(got, want, keys, what):
    assert sorted(k for k in got if k in keys or not keys) == sorted(keys), (what, sorted(got))
    for k in keys:
        assert got[k].shape == want[k].shape and got[k].tobytes() == want[k].tobytes(), (what, k)
want = tensors("ck/ckpt-0002")
info = json.load(open("ck/ckpt-0002/info.json"))
stats = ["weights/normalization/mean", "weights/normalization/variance", "weights/normalization/count",
         "weights/batch_normalization/moving_mean", "weights/batch_normalization/moving_variance"]
assert all(k in want for k in stats), sorted(want)
trainable = [k[len("optimizer/m/"):] for k in want if k.startswith("optimizer/m/")]
assert len(trainable) == 13 and all("weights/" + k in want and "optimizer/v/" + k in want for k in trainable), trainable
for n in ["sqlite_s_db", "hdf5_s_h5", "dir_d", "m_keras", "m_h5", "m_weights_h5"]:
    checkpoint = only("back_" + n)
    same(tensors(checkpoint), want, sorted(want), n)
    assert json.load(open(os.path.join(checkpoint, "info.json"))) == info, n + ": the record's info differs"
    print(n, "bit for bit:", len(want), "tensors and the info")
for n in ["k.h5", "k.keras"]:
    got = tensors(only("keras_" + n))
    keys = sorted(k for k in want if k.startswith("weights/") or k.startswith("optimizer/"))
    same({k: v for k, v in got.items() if k in keys}, want, keys, n)
    print(n, "(Keras's parts) bit for bit:", len(keys), "weights and slots")
loaded, direct = tensors(only("loaded_k.weights.h5")), tensors(only("loaded_dir"))
same(loaded, direct, sorted(direct), "k.weights.h5")
print("an epoch from k.weights.h5 (Keras's load_weights by its class names) equals one from dir:ck:", len(direct), "tensors")
PY
    # Keras 3's names (keras/src/layers/convolutional/base_depthwise_conv.py: DepthwiseConv2D's
    # kernel is "kernel"; base_separable_conv.py: "depthwise_kernel", "pointwise_kernel").
    py - <<'PY' || fail "m.h5 does not name the depthwise kernels as Keras 3 does"
import h5py
f = h5py.File("m.h5", "r")
text = lambda n: n.decode() if isinstance(n, bytes) else n
names = lambda layer: [text(n) for n in f["model_weights"][layer].attrs["weight_names"]]
assert names("depthwise_conv2d") == ["sequential/depthwise_conv2d/kernel", "sequential/depthwise_conv2d/bias"], names("depthwise_conv2d")
assert names("separable_conv2d") == ["sequential/separable_conv2d/depthwise_kernel", "sequential/separable_conv2d/pointwise_kernel",
                                     "sequential/separable_conv2d/bias"], names("separable_conv2d")
slots = [text(n) for n in f["optimizer_weights"].attrs["weight_names"]]
assert "adam/sequential_depthwise_conv2d_kernel_momentum" in slots, slots
assert "adam/sequential_separable_conv2d_depthwise_kernel_velocity" in slots, slots
print("Keras 3 names:", names("depthwise_conv2d"), names("separable_conv2d"))
PY
    # One more epoch resumed from each location equals the straight run's third.
    for location in $locations; do
      n=$(tr ':.' '__' <<<"$location")
      "$plugfit" train run.json --epochs 3 --resume --checkpoint "$location" >/dev/null || fail "resume from $location"
      "$plugfit" convert "$location" "dir:resumed_$n" --only latest >/dev/null || fail "convert $location's resumed epoch"
      py - "resumed_$n" <<'PY' || fail "the epoch resumed from $location differs from the straight run's"
import os, sys, numpy as np
def tensors(checkpoint):
    root = os.path.join(checkpoint, "tensors")
    return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(root) for f in files if f.endswith(".npy")}
want, got = tensors("straight/ckpt-0003"), tensors(os.path.join(sys.argv[1], "ckpt-0003"))
assert sorted(got) == sorted(want) and all(got[k] == want[k] for k in want), [k for k in want if got.get(k) != want[k]]
print(sys.argv[1], "equals the straight run's epoch 3:", len(want), "tensors")
PY
    done
    ;;
  hdf5_full_disk)
    # A file-size limit hit mid-save (as a full disk would): the save fails naming the file and
    # the reason, the process exits cleanly, and the previous file is left byte for byte.
    write_full_disk_run
    "$plugfit" train run.json --checkpoint hdf5:run.h5 || fail "first run"
    cp run.h5 before.h5
    size=$(stat -c %s run.h5)
    # ulimit -f counts KiB: room for half a checkpoint (the new file is as large as the old).
    expect_error 1 "saving checkpoint \"ckpt-0002\" to hdf5:$PWD/run.h5 failed: .*File too large" \
      with_file_limit $(( size / 2 / 1024 )) \
      "$plugfit" train run.json --epochs 2 --checkpoint hdf5:run.h5 --resume
    cmp run.h5 before.h5 || fail "the previous file changed"
    ! ls run.h5.tmp-* run.h5.checkpoints/.tmp-* 2>/dev/null || fail "a temporary file was left behind"
    [ -z "$(ls run.h5.checkpoints | grep -v '^index.json$')" ] || fail "the failed save left a checkpoint in the sidecar"
    "$plugfit" inspect hdf5:run.h5 | tee inspect.txt || fail "the previous checkpoint does not load"
    grep -q "1 checkpoint(s), latest ckpt-0001" inspect.txt || fail "inspect"
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
echo "ok: $case_name"
