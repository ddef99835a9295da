#!/usr/bin/env bash
# The tf: backend (issue 16) end to end, on the real TensorFlow files in ../shared/tf_files:
# a Keras TF-format weights checkpoint (charity), a Dense SavedModel (heart), a CNN SavedModel
# (mnist). Every numeric check compares plugfit with tests/cli/tf_reference.py, an independent
# numpy reader of the same files (its own LevelDB and protobuf decoding, Keras's forward pass).
# Usage: tf_cases.sh PLUGFIT SOURCE_ROOT CASE
source "$(dirname "$0")/lib.sh"

# The folder as plugfit names it (an absolute path, '..' resolved), for the messages matched below.
[ -d "$tf_files" ] && tf_files=$(cd "$tf_files" && pwd)
reference="$root/tests/cli/tf_reference.py"
writer="$root/tests/cli/tf_writer.py"
heart=$tf_files/heart_dense_sm
mnist=$tf_files/mnist_cnn_sm/mnist_model
charity=$tf_files/charity_dense_ckpt/checkpoints
charity_key=layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE

# close A.npy B.npy: same shape, largest difference at most 1e-5.
close() {
  py -c '
import sys, numpy as np
a, b = np.load(sys.argv[1]).astype(np.float64), np.load(sys.argv[2]).astype(np.float64)
d = float(np.abs(a - b).max())
print("largest difference from the reference:", d, "over", a.size, "outputs")
sys.exit(0 if a.shape == b.shape and d <= 1e-5 else 1)' "$1" "$2"
}

inputs() {
  py - <<'PY'
import numpy as np
rng = np.random.default_rng(7)
np.save("heart_x.npy", rng.normal(size=(64, 13)).astype(np.float32))
np.save("heart_y.npy", (rng.random(64) > 0.5).astype(np.float32))
np.save("mnist_x.npy", rng.random(size=(16, 28, 28, 1)).astype(np.float32))
np.save("charity_x.npy", rng.normal(size=(64, 43)).astype(np.float32))
np.save("charity_y.npy", (rng.random(64) > 0.5).astype(np.float32))
PY
}

# charity_run FILE LOAD [LAYERS]: a run file of the charity README's model (LAYERS Dense layers
# before the output: 2), its weights from LOAD, SGD at rate 0 (an epoch keeps them as loaded).
charity_run() {
  py - "$1" "$2" "${3:-2}" <<'PY'
import json, sys
out, load, hidden = sys.argv[1], sys.argv[2], int(sys.argv[3])
units = [80, 30, 30][:hidden]
layers = [{"class_name": "Dense", "config": {"units": u, "activation": "relu"}} for u in units]
layers[0]["config"]["input_shape"] = [43]
layers.append({"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}})
json.dump({"model": {"layers": layers}, "data": {"train": "npy:charity_x.npy,charity_y.npy"}, "load_weights": load,
           "compile": {"optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.0}}, "loss": "binary_crossentropy"},
           "fit": {"epochs": 1, "batch_size": 32, "seed": 1, "verbose": 1}}, open(out, "w"))
PY
}

case "$case_name" in
  tf_inspect)
    # Each folder opens by tf: and by bare path: its variables, shapes and TF's step count.
    need_tf_files
    for spec in "tf:$heart|120|saved_model|dense_5/kernel (100, 1)" "$mnist|7500|saved_model|conv2d_5/kernel (3, 3, 1, 32)" \
        "$charity|80400|weights.100.hd5f|layer_with_weights-0/kernel (43, 80)" \
        "tf:$charity/weights.100.hd5f|80400|weights.100.hd5f|layer_with_weights-2/bias (1,)"; do
      IFS='|' read -r uri step name weight <<<"$spec"
      "$plugfit" inspect "$uri" >out.txt 2>err.txt || fail "inspect $uri: $(cat err.txt)"
      cat out.txt | head -4
      grep -q "^tf:" out.txt || fail "$uri did not open as tf:"
      grep -Eq "^  $name +(full|weights) +epoch 0 +step $step " out.txt || fail "$uri: no $name at step $step"
      grep -qF "$weight" out.txt || fail "$uri: no weight $weight"
      grep -q "step count (optimizer/iter) $step" out.txt || fail "$uri: the step count is not listed"
      # Every variable of the index is listed with its dtype and shape, as the reference reads them.
      "$plugfit" inspect "$uri" --json >inspect.json || fail "inspect --json $uri"
      prefix=$(py -c 'import json; print(json.load(open("inspect.json"))["checkpoints"][0]["tf"]["index"][:-6])')
      py "$reference" keys "$prefix" >keys.txt || fail "the reference cannot read $prefix"
      py - <<'PY' || fail "$uri: inspect's variables differ from the reference's"
import json
listed = {v["key"]: v["shape"] for v in json.load(open("inspect.json"))["checkpoints"][0]["tf"]["variables"]}
ref = {}
for line in open("keys.txt"):
    key, dtype, shape = line.split(" ", 2)
    ref[key] = json.loads(shape)
assert listed == ref, (len(listed), len(ref))
print(len(listed), "variables listed as the reference reads them")
PY
    done
    ;;
  tf_predict_saved_models)
    # Both SavedModels predict within 1e-5 of the reference's forward pass from the same files.
    need_tf_files
    inputs
    "$plugfit" predict "tf:$heart" --input heart_x.npy --output heart.npy || fail "predict heart"
    py "$reference" predict "$heart" heart_x.npy heart_ref.npy || fail "reference heart"
    close heart.npy heart_ref.npy || fail "heart predicts otherwise than the reference"
    "$plugfit" predict "$mnist" --input mnist_x.npy --output mnist.npy || fail "predict mnist (bare path)"
    py "$reference" predict "$mnist" mnist_x.npy mnist_ref.npy || fail "reference mnist"
    close mnist.npy mnist_ref.npy || fail "mnist predicts otherwise than the reference"
    # evaluate takes the folder too (its training_config: binary_crossentropy, acc).
    "$plugfit" evaluate "$heart" --data npy:heart_x.npy,heart_y.npy | tee out.txt || fail "evaluate heart"
    grep -q "loss" out.txt || fail "evaluate printed no loss"
    ;;
  tf_charity_weights)
    # The weights-only checkpoint has no architecture: it loads into its README's model from a run
    # file (Keras's load_weights by position), predicts like the reference, and a model with a
    # layer more is refused in Keras's words.
    need_tf_files
    inputs
    charity_run run.json "tf:$charity"
    "$plugfit" train run.json --checkpoint dir:ck | tee out.txt || fail "training with load_weights tf:"
    grep -q "^Loaded weights from tf:$charity/weights.100.hd5f" out.txt || fail "no load message"
    "$plugfit" predict dir:ck --input charity_x.npy --output pred.npy || fail "predict"
    py "$reference" charity "$charity/weights.100.hd5f" charity_x.npy ref.npy || fail "reference"
    close pred.npy ref.npy || fail "the charity weights predict otherwise than the reference"
    charity_run wrong.json "$charity" 3
    expect_error 2 "^plugfit: error: Layer count mismatch when loading weights from file. Model expected 4 layers, found 3 saved layers.$" \
      "$plugfit" train wrong.json
    ;;
  tf_resume_step)
    # train --resume-from a SavedModel continues its Adam state and step count (TF's iter, 120)
    # and saves to the run's own dir: location: its checkpoint's step is 120 + the steps run.
    need_tf_files
    inputs
    py - <<'PY'
import json
layers = [{"class_name": "Dense", "config": {"units": u, "activation": "relu"}} for u in (36, 48, 60, 82, 100)]
layers[0]["config"]["input_shape"] = [13]
layers.append({"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}})
json.dump({"model": {"layers": layers}, "data": {"train": "npy:heart_x.npy,heart_y.npy"},
           "compile": {"optimizer": "adam", "loss": "binary_crossentropy"},
           "fit": {"epochs": 1, "batch_size": 32, "seed": 1, "verbose": 1}}, open("run.json", "w"))
PY
    step=$(py "$reference" step "$heart/variables/variables") || fail "reference step"
    [ "$step" = 120 ] || fail "the reference reads step $step"
    "$plugfit" train run.json --resume-from "tf:$heart" --checkpoint dir:ck | tee out.txt || fail "train --resume-from"
    grep -q "^Continuing from tf:$heart/saved_model at step 120" out.txt || fail "no continuing message"
    info=$(ls -d ck/ckpt-*/ | tail -1)info.json
    py - "$info" <<'PY' || fail "the run's checkpoint does not continue TF's step count"
import json, sys
info = json.load(open(sys.argv[1]))
print("optimizer iterations", info["optimizer"]["iterations"], "global step", info["training"]["global_step"])
assert info["optimizer"]["iterations"] == 120 + 2 and info["training"]["global_step"] == 120 + 2
PY
    # The SavedModel is read, never written: a convert into it is refused in one sentence.
    expect_error 2 "^plugfit: error: .*the tf: backend is read-only: plugfit cannot save a checkpoint to tf:" \
      "$plugfit" convert dir:ck "tf:$heart"
    expect_error 2 "^plugfit: error: --resume and --resume-from contradict each other" \
      "$plugfit" train run.json --resume --resume-from "tf:$heart" --checkpoint dir:ck
    ;;
  tf_latest_checkpoint)
    # A folder whose TF checkpoint file keeps two checkpoints (CheckpointManager's max_to_keep):
    # list() is both, the latest is model_checkpoint_path (ckpt-2, its output bias moved by 1.5),
    # and #ckpt-1 picks the other, as tf.train.latest_checkpoint and CheckpointManager read it.
    need_tf_files
    inputs
    mkdir keep
    for n in 1 2; do
      cp "$charity/weights.100.hd5f.index" "keep/ckpt-$n.index"
      cp "$charity/weights.100.hd5f.data-00000-of-00001" "keep/ckpt-$n.data-00000-of-00001"
    done
    chmod u+w keep/*
    py "$writer" bias keep/ckpt-2 "layer_with_weights-2/bias/.ATTRIBUTES/VARIABLE_VALUE" 1.5 || fail "editing ckpt-2"
    printf 'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-2"\n' >keep/checkpoint
    "$plugfit" inspect keep | tee out.txt || fail "inspect keep"
    grep -q "^tf:$PWD/keep: 2 checkpoint(s), latest ckpt-2" out.txt || fail "not two checkpoints, latest ckpt-2"
    for pick in "" "#ckpt-1"; do
      charity_run run.json "keep$pick"
      rm -rf ck
      "$plugfit" train run.json --checkpoint dir:ck | tee out.txt || fail "load_weights keep$pick"
      want=${pick#\#}
      want=${want:-ckpt-2}
      grep -q "^Loaded weights from tf:$PWD/keep/$want" out.txt || fail "keep$pick did not load $want"
      "$plugfit" predict dir:ck --input charity_x.npy --output pred.npy || fail "predict"
      py "$reference" charity "keep/$want" charity_x.npy ref.npy || fail "reference $want"
      close pred.npy ref.npy || fail "keep$pick predicts otherwise than the reference's $want"
    done
    ;;
  tf_corruptions)
    # Damaged copies, each refused with exit 2 in one sentence naming the file and the variable.
    need_tf_files
    inputs
    fresh() { rm -rf sm && cp -r "$heart" sm && chmod -R u+w sm; }
    data=sm/variables/variables.data-00000-of-00001
    index=sm/variables/variables.index
    key=layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE
    run() { "$plugfit" predict sm --input heart_x.npy --output p.npy; }
    # (a) a flipped byte in the shard, inside the first layer's kernel
    fresh
    offset=$(py -c 'import sys; sys.path.insert(0, sys.argv[1]); import tf_reference as r; print(r.Bundle("sm/variables/variables").entries[sys.argv[2]]["offset"] + 10)' \
      "$root/tests/cli" "$key")
    py "$writer" flip $data "$offset"
    expect_error 2 "^plugfit: error: $PWD/$data: variable \"$key\" fails its CRC-32C check \(the shard is damaged\)$" run
    # (b) a truncated index
    fresh
    py "$writer" truncate $index 2000
    expect_error 2 "^plugfit: error: $PWD/$index does not end with a table's magic number" run
    py "$writer" truncate $index 20
    expect_error 2 "^plugfit: error: $PWD/$index is 20 bytes, too short" run
    # (c) a missing shard
    fresh
    rm $data
    expect_error 2 "^plugfit: error: $PWD/$data, the shard holding variable \"[^\"]+\", does not exist$" run
    # (d) an index entry pointing past its shard
    fresh
    py "$writer" past sm/variables/variables "$key"
    expect_error 2 "^plugfit: error: $PWD/$data: variable \"$key\" lies past the end of its shard" run
    # (e) a weight of a dtype plugfit does not read (int32, its size kept)
    fresh
    py "$writer" dtype sm/variables/variables "$key" 3
    expect_error 2 "^plugfit: error: $PWD/$index: variable \"$key\" is int32; plugfit reads float32, float16 and bfloat16 weights$" run
    # (f) a flipped byte in an index block: the block's CRC-32C
    fresh
    py "$writer" flip $index 100
    expect_error 2 "^plugfit: error: $PWD/$index's data block 0 fails its CRC-32C check" run
    # (g) the weights-only checkpoint's shard damaged in a tensor nothing maps (still checked)
    rm -rf c && cp -r "$charity" c && chmod -R u+w c
    py "$writer" flip c/weights.100.hd5f.data-00000-of-00001 -2
    expect_error 2 "^plugfit: error: $PWD/c/weights.100.hd5f.data-00000-of-00001: variable \"_CHECKPOINTABLE_OBJECT_GRAPH\" fails its CRC-32C check" \
      "$plugfit" inspect c
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
echo "ok: $case_name"
