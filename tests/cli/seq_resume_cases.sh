#!/usr/bin/env bash
# Sequence models end to end (issue 13): exact resume after SIGKILL with recurrent dropout, and
# round trips of sequence models through plugfit's backends and Keras's files.
# Usage: seq_resume_cases.sh PLUGFIT SOURCE_ROOT CASE. Kills go out after a progress marker (a
# new backup), never after a fixed sleep alone; Debian's /usr/bin/python3 writes the data.
source "$(dirname "$0")/lib.sh"

py -c 'import numpy' 2>/dev/null || fail "Debian's python3-numpy is needed (scripts/setup installs it)"

# Token sequences (int32, 0 the padding after each sequence's length) and 3 classes that depend
# on the tokens' order, so that the recurrent layers have something to learn.
write_tokens() {
  py - "$1" "$2" <<'PY' || fail "writing the token data"
import sys, numpy as np
n, steps = int(sys.argv[1]), int(sys.argv[2])
r = np.random.default_rng(5)
x = r.integers(1, 40, size=(n, steps)).astype(np.int32)
lengths = r.integers(steps // 3, steps + 1, size=n)
for i, length in enumerate(lengths):
    x[i, length:] = 0
y = ((x[:, 0] > x[:, 1]).astype(int) + (lengths > 2 * steps // 3)).astype(np.float32)
np.save("X.npy", x)
np.save("Y.npy", y)
PY
}

# compare_back CHECKPOINT_DIR NAMES...: each back_<name> folder holds one checkpoint equal to
# CHECKPOINT_DIR (every tensor byte for byte, and the record's info).
compare_back() {
  py - "$@" <<'PY'
import json, os, sys, numpy as np
def only(folder):
    names = [n for n in os.listdir(folder) if n != "index.json"]
    assert len(names) == 1, (folder, names)
    return os.path.join(folder, names[0])
def tensors(checkpoint):
    root = os.path.join(checkpoint, "tensors")
    return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(root) for f in files if f.endswith(".npy")}
want = tensors(sys.argv[1])
info = json.load(open(os.path.join(sys.argv[1], "info.json")))
for n in sys.argv[2:]:
    checkpoint = only("back_" + n)
    got = tensors(checkpoint)
    assert sorted(got) == sorted(want), (n, sorted(set(got) ^ set(want)))
    assert all(got[k] == want[k] for k in want), (n, [k for k in want if got[k] != want[k]])
    assert json.load(open(os.path.join(checkpoint, "info.json"))) == info, n + ": the record's info differs"
    print(n, "bit for bit:", len(want), "tensors and the info")
PY
}

# copy_round_trip LOCATIONS: dir:ck (2 epochs of run.json) copied into each location and back
# into dir:back_<n>: bit for bit, predicting bit for bit.
copy_round_trip() {
  local location n names=""
  "$plugfit" predict dir:ck --input X.npy --output run.npy >/dev/null || fail "predict from dir:ck"
  for location in $1; do
    n=$(tr ':.' '__' <<<"$location")
    names="$names $n"
    "$plugfit" convert dir:ck "$location" --only latest >/dev/null || fail "convert dir:ck into $location"
    "$plugfit" convert "$location" "dir:back_$n" >/dev/null || fail "convert $location back into dir:back_$n"
    "$plugfit" predict "$location" --input X.npy --output "pred_$n.npy" >/dev/null || fail "predict from $location"
    same_bytes run.npy "pred_$n.npy" || fail "$location predicts otherwise than the run"
  done
  # shellcheck disable=SC2086
  compare_back ck/ckpt-0002 $names || fail "a copy read back differs from the run's checkpoint"
}

# resume_each LOCATIONS: one more epoch resumed from each location (it then holds that epoch too)
# equals the straight three-epoch run's third.
resume_each() {
  local location n
  for location in $1; do
    n=$(tr ':.' '__' <<<"$location")
    "$plugfit" train run.json --epochs 3 --resume --checkpoint "$location" >/dev/null || fail "resume from $location"
    "$plugfit" convert "$location" "dir:resumed_$n" --only latest >/dev/null || fail "convert $location's resumed epoch"
    same_tensors straight/ckpt-0003 "resumed_$n/ckpt-0003" || fail "the epoch resumed from $location differs"
  done
}

case "$case_name" in
  seq_sigkill_resume_exact)
    # Embedding(mask_zero) -> LSTM(dropout 0.2, recurrent_dropout 0.2) -> Dense, BackupAndRestore
    # every 3 batches, SIGKILLed at least 8 times mid-epoch after a new backup: the final weights
    # and Adam's state equal an uninterrupted run's byte for byte (the dropout masks drawn from
    # the restored generator, as in the run that never stopped).
    write_tokens 6000 24
    cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 24]}},
  {"class_name": "Embedding", "config": {"input_dim": 40, "output_dim": 8, "mask_zero": true}},
  {"class_name": "LSTM", "config": {"units": 16, "dropout": 0.2, "recurrent_dropout": 0.2}},
  {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
 "data": {"train": "npy:X.npy,Y.npy"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "callbacks": [{"class_name": "BackupAndRestore", "config": {"backup_dir": "backup", "save_freq": 3}}],
 "fit": {"epochs": 3, "batch_size": 32, "validation_split": 0.1, "seed": 4, "verbose": 0}}
JSON
    "$plugfit" train run.json --checkpoint dir:straight || fail "uninterrupted run"
    [ ! -e backup/backup ] || fail "the backup was not deleted after a successful run"
    kill_and_restore 8
    same_tensors straight/ckpt-0003 killed/ckpt-0003 || fail "the final weights differ from the uninterrupted run's"
    ;;
  seq_backends_round_trip)
    # Embedding -> Conv1D (causal) -> GRU -> Bidirectional(LSTM, recurrent dropout) -> LSTM ->
    # Dense through dir:, sqlite: and hdf5: and back, bit for bit, and resumed from each.
    write_tokens 96 12
    cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 12]}},
  {"class_name": "Embedding", "config": {"input_dim": 40, "output_dim": 6}},
  {"class_name": "Conv1D", "config": {"filters": 5, "kernel_size": 3, "padding": "causal", "activation": "relu"}},
  {"class_name": "GRU", "config": {"units": 4, "return_sequences": true}},
  {"class_name": "Bidirectional", "config": {"merge_mode": "concat", "layer": {"class_name": "LSTM",
    "config": {"units": 3, "return_sequences": true, "recurrent_dropout": 0.2}}}},
  {"class_name": "LSTM", "config": {"units": 4}},
  {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
 "data": {"train": "npy:X.npy,Y.npy"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 2, "batch_size": 16, "seed": 3, "verbose": 0}}
JSON
    "$plugfit" train run.json --checkpoint dir:ck || fail "training the sequence model"
    "$plugfit" train run.json --epochs 3 --checkpoint dir:straight || fail "the straight three-epoch run"
    copy_round_trip "sqlite:s.db hdf5:s.h5 dir:d"
    resume_each "sqlite:s.db hdf5:s.h5 dir:d"
    ;;
  seq_bidirectional_keras_files)
    # Bidirectional(LSTM) and Bidirectional(GRU) saved as .keras, legacy .h5 and .weights.h5 and
    # read back bit for bit (predictions too, and an epoch resumed from each); the files' groups
    # and names are Keras 3's (keras/src/layers/rnn/bidirectional.py keeps forward_layer and
    # backward_layer, each with its cell; variable paths name forward_lstm / backward_lstm), and
    # Keras's parts alone (the /plugfit group removed) predict bit for bit as well.
    py -c '
import numpy as np
r = np.random.default_rng(2)
x = r.normal(size=(64, 10, 4)).astype(np.float32)
np.save("X.npy", x)
np.save("Y.npy", ((x[:, 0, 0] > 0).astype(int) + (x[:, -1, 1] > 0)).astype(np.float32))' || fail "writing the data"
    cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 10, 4]}},
  {"class_name": "Bidirectional", "config": {"layer": {"class_name": "LSTM", "config": {"units": 5, "return_sequences": true}}}},
  {"class_name": "Bidirectional", "config": {"merge_mode": "ave", "layer": {"class_name": "GRU", "config": {"units": 3}}}},
  {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
 "data": {"train": "npy:X.npy,Y.npy"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 2, "batch_size": 16, "seed": 8, "verbose": 0}}
JSON
    "$plugfit" train run.json --checkpoint dir:ck || fail "training the Bidirectional model"
    "$plugfit" train run.json --epochs 3 --checkpoint dir:straight || fail "the straight three-epoch run"
    copy_round_trip "m.keras m.h5 m.weights.h5"
    py - <<'PY' || fail "the files' layout is not Keras 3's"
import io, json, zipfile, h5py
text = lambda n: n.decode() if isinstance(n, bytes) else n
groups = []
h5py.File("m.weights.h5", "r").visit(lambda n: groups.append(n) if n.startswith("layers/bidirectional") else None)
for layer, cell in [("bidirectional", "lstm_cell"), ("bidirectional_1", "gru_cell")]:
    for side, name in [("forward_layer", "forward_"), ("backward_layer", "backward_")]:
        for i in range(3):
            assert "layers/%s/%s/cell/vars/%d" % (layer, side, i) in groups, (layer, side, i, groups)
f = h5py.File("m.weights.h5", "r")
assert text(f["layers/bidirectional/forward_layer/vars"].attrs["name"]) == "forward_lstm"
assert text(f["layers/bidirectional/backward_layer/cell/vars"].attrs["name"]) == "lstm_cell"
print(".weights.h5:", sorted(g for g in groups if g.endswith("/vars")))
h5 = h5py.File("m.h5", "r")
names = [text(n) for n in h5["model_weights/bidirectional"].attrs["weight_names"]]
want = ["sequential/bidirectional/%s_lstm/lstm_cell/%s" % (side, w)
        for side in ("forward", "backward") for w in ("kernel", "recurrent_kernel", "bias")]
assert names == want, names
assert h5["model_weights/bidirectional"][want[0]].shape == (4, 20)
slots = [text(n) for n in h5["optimizer_weights"].attrs["weight_names"]]
assert "adam/sequential_bidirectional_backward_lstm_lstm_cell_recurrent_kernel_velocity" in slots, slots
assert "adam/sequential_bidirectional_1_forward_gru_gru_cell_bias_momentum" in slots, slots
print("legacy .h5:", names)
config = json.loads(zipfile.ZipFile("m.keras").read("config.json"))
bi = config["config"]["layers"][1]
assert bi["class_name"] == "Bidirectional" and bi["config"]["merge_mode"] == "concat", bi
inner, back = bi["config"]["layer"], bi["config"]["backward_layer"]
assert inner["class_name"] == "LSTM" and inner["config"]["name"] == "forward_lstm", inner
assert back["config"]["name"] == "backward_lstm" and back["config"]["go_backwards"] is True, back
assert inner["build_config"] == {"input_shape": [None, 10, 4]}, inner
assert bi["build_config"] == {"input_shape": [None, 10, 4]}, bi
print(".keras: Bidirectional of", inner["config"]["name"], "and", back["config"]["name"])
PY
    keras_parts_only
    for file in k.h5 k.keras; do
      "$plugfit" predict $file --input X.npy --output "pred_$file.npy" >/dev/null || fail "predict from $file (Keras's parts only)"
      same_bytes run.npy "pred_$file.npy" || fail "$file (Keras's parts only) predicts otherwise than the run"
    done
    # k.weights.h5 into the run file's model (Keras's order: forward_layer's weights first), then
    # one epoch: as from dir:ck's own weights.
    one_epoch_after_load k.weights.h5 dir:ck#latest
    same_tensors "$(ls -d loaded_k.weights.h5/ckpt-*)" "$(ls -d loaded_dir/ckpt-*)" ||
      fail "an epoch from k.weights.h5 differs from one from dir:ck"
    echo "Keras's parts alone (k.h5, k.keras) predict bit for bit; k.weights.h5 loads as dir:ck's weights"
    resume_each "m.keras m.h5 m.weights.h5"
    ;;
  *) fail "unknown case $case_name" ;;
esac
echo "PASS $case_name"
