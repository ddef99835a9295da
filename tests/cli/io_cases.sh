#!/usr/bin/env bash
# predict's inputs and outputs as named: --output .csv writes CSV and .npy writes npy (numpy reads
# both back equal), any other extension is refused before any work, and a csv: input is all
# features unless it names a label. Usage: io_cases.sh PLUGFIT SOURCE_ROOT CASE
source "$(dirname "$0")/lib.sh"

# A trained 4-feature, 3-class model in dir:ckpts, and inputs X.npy / x.csv (the same values).
train_and_write_inputs() {
  cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=64,features=4,classes=3"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
 "fit": {"epochs": 1, "batch_size": 16, "seed": 1, "verbose": 0}}
JSON
  "$plugfit" train run.json --checkpoint dir:ckpts >/dev/null || fail "training"
  py -c '
import numpy as np
x = (np.arange(28, dtype=np.float32).reshape(7, 4) - 13) / np.float32(7)
np.save("X.npy", x)
np.savetxt("x.csv", x, delimiter=",", fmt="%.9g")
np.savetxt("xy.csv", np.hstack([x, np.arange(7).reshape(7, 1) % 3]), delimiter=",", fmt="%.9g")
' || fail "numpy could not write the inputs"
}

case "$case_name" in
  predict_csv_npy_agree)
    train_and_write_inputs
    "$plugfit" predict dir:ckpts --input X.npy --output y.npy | tee out.txt || fail "predict to .npy"
    grep -q "^wrote predictions of shape (7, 3) to y.npy$" out.txt || fail "predict's message"
    "$plugfit" predict dir:ckpts --input X.npy --output y.csv >/dev/null || fail "predict to .csv"
    head -c 6 y.csv | grep -q NUMPY && fail "y.csv holds npy bytes"
    py - <<'PY' || fail "the CSV and npy predictions differ"
import numpy as np
a = np.load("y.npy")
b = np.loadtxt("y.csv", delimiter=",", dtype=np.float32, ndmin=2)
assert a.shape == (7, 3) and b.shape == (7, 3), (a.shape, b.shape)
assert (a == b).all(), (a, b)  # %.9g round-trips float32 exactly
assert abs(a.sum(1) - 1).max() < 1e-5
print("y.csv equals y.npy,", a.shape)
PY
    ;;
  predict_output_refused)
    # Refused before the checkpoint is even opened: dir:none does not exist.
    expect_error 2 '^plugfit: error: output file y\.txt has neither of the extensions predict writes, \.csv and \.npy$' \
      "$plugfit" predict dir:none --input X.npy --output y.txt
    expect_error 2 'output file predictions has neither of the extensions predict writes, \.csv and \.npy$' \
      "$plugfit" predict dir:none --input X.npy --output predictions
    ;;
  predict_csv_all_features)
    train_and_write_inputs
    "$plugfit" predict dir:ckpts --input X.npy --output from_npy.npy >/dev/null || fail "predict from npy"
    # All four columns are features: no label is taken from the last one.
    "$plugfit" predict dir:ckpts --input csv:x.csv --output from_csv.npy >/dev/null || fail "predict from csv:x.csv"
    "$plugfit" predict dir:ckpts --input x.csv --output from_bare_csv.npy >/dev/null || fail "predict from x.csv"
    # A named label column is left out of the features.
    "$plugfit" predict dir:ckpts --input csv:xy.csv,label=4 --output from_labelled.npy >/dev/null ||
      fail "predict from csv:xy.csv,label=4"
    py - <<'PY' || fail "csv and npy inputs predict differently"
import numpy as np
a = np.load("from_npy.npy")
for f in ("from_csv.npy", "from_bare_csv.npy", "from_labelled.npy"):
    b = np.load(f)
    assert a.shape == b.shape == (7, 3) and (a == b).all(), f
print("csv:x.csv, x.csv and csv:xy.csv,label=4 predict as X.npy does")
PY
    # train keeps its default: the last column is the label, so x.csv has 3 features for a 4-input model.
    expect_error 2 'the evaluation data csv:x.csv has samples of shape \(None, 3\) but the model.s first layer "dense" expects \(None, 4\)' \
      "$plugfit" evaluate dir:ckpts --data csv:x.csv
    ;;
  *) fail "unknown case $case_name" ;;
esac
