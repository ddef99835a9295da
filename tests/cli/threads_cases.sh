#!/usr/bin/env bash
# The `threads` setting: a fixed thread count trains the same bits every run; 1 and 2 threads
# agree to rounding (OpenBLAS may sum a smaller GEMM's rows in another order); bad values are
# refused in one sentence. Usage: threads_cases.sh PLUGFIT SOURCE_ROOT CASE
source "$(dirname "$0")/lib.sh"

# An MLP large enough that Dense's GEMMs and Adam's update are split (see dense.cpp).
write_run() {
  cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 128, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=640,features=784,classes=10"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
 "fit": {"epochs": 2, "batch_size": 64, "seed": 7, "verbose": 0, "threads": 1}}
JSON
  py -c '
import numpy as np
np.save("X.npy", np.sin(np.arange(20 * 784, dtype=np.float32)).reshape(20, 784))
' || fail "numpy could not write the inputs"
}

# train_predict NAME THREADS: trains into dir:NAME with --threads THREADS, predicts NAME.npy.
train_predict() {
  "$plugfit" train run.json --threads "$2" --checkpoint "dir:$1" >/dev/null || fail "training with --threads $2"
  "$plugfit" predict "dir:$1" --input X.npy --output "$1.npy" --threads 1 >/dev/null || fail "predict of $1"
}

case "$case_name" in
  threads_deterministic)
    write_run
    train_predict one_a 1
    train_predict one_b 1
    train_predict two_a 2
    train_predict two_b 2
    cmp one_a.npy one_b.npy || fail "two runs with --threads 1 differ"
    cmp two_a.npy two_b.npy || fail "two runs with --threads 2 differ"
    # Across counts, to rounding: 2 epochs of Adam on softmax outputs.
    py -c '
import numpy as np, sys
a, b = np.load("one_a.npy"), np.load("two_a.npy")
worst = float(np.max(np.abs(a - b)))
print("1 vs 2 threads: max |difference| %.3g" % worst)
sys.exit(0 if a.shape == b.shape and worst < 1e-5 else 1)
' || fail "--threads 1 and --threads 2 differ by more than rounding"
    # The run file's "threads" holds when no flag is given, and auto is accepted.
    "$plugfit" train run.json --checkpoint dir:file >/dev/null || fail "training with the run file's threads"
    "$plugfit" predict dir:file --input X.npy --output file.npy --threads 1 >/dev/null || fail "predict of file"
    cmp one_a.npy file.npy || fail "the run file's threads 1 differs from --threads 1"
    "$plugfit" predict dir:file --input X.npy --output auto.npy --threads auto >/dev/null || fail "predict --threads auto"
    py -c '
import numpy as np, sys
sys.exit(0 if np.max(np.abs(np.load("auto.npy") - np.load("file.npy"))) < 1e-5 else 1)
' || fail "predict --threads auto differs from --threads 1 by more than rounding"
    echo "identical: --threads 1 twice, --threads 2 twice; 1 vs 2 to rounding"
    ;;
  threads_refused)
    write_run
    for bad in 0 -1 x 1.5; do
      expect_error 2 "^plugfit: error: --threads must be a positive integer or \"auto\", got \"$bad\"$" \
        "$plugfit" train run.json --threads="$bad"
    done
    expect_error 2 '--threads must be a positive integer or "auto", got "0"$' \
      "$plugfit" evaluate dir:none --threads 0
    expect_error 2 '--threads must be a positive integer or "auto", got "x"$' \
      "$plugfit" predict dir:none --input X.npy --output y.npy --threads x
    sed 's/"threads": 1/"threads": 0/' run.json >zero.json
    expect_error 2 'zero\.json: fit\.threads must be a positive integer or "auto", got "0"$' "$plugfit" train zero.json
    sed 's/"threads": 1/"threads": "many"/' run.json >many.json
    expect_error 2 'many\.json: fit\.threads must be a positive integer or "auto", got "many"$' "$plugfit" train many.json
    ;;
  *) fail "unknown case $case_name" ;;
esac
