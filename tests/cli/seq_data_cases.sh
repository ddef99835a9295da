#!/usr/bin/env bash
# Sequence data end to end (issue 13): token ids from int32 / int64 / float32 npy, CSV and a
# tokens: list file (padded and cut to maxlen) feed an Embedding the same ids (training on each
# gives bit-identical predictions); float sequences
# (n, steps, features) from npy train an LSTM, and (n, steps) feeds a model declared on
# (steps, 1) by the same rule as (28, 28) images to (28, 28, 1); Fashion-MNIST's (28, 28) images
# are 28 steps of 28 features to an LSTM declared on (28, 28).
# Usage: seq_data_cases.sh PLUGFIT SOURCE_ROOT CASE
source "$(dirname "$0")/lib.sh"

py -c 'import numpy' 2>/dev/null || fail "Debian's python3-numpy is needed (scripts/setup installs them)"

# train_predict NAME TRAIN LAYERS INPUT: trains LAYERS on TRAIN (seed 1, 2 epochs) into
# dir:NAME.ckpt, then predicts INPUT into NAME.npy.
train_predict() {
  cat >"$1.json" <<JSON
{"model": {"layers": [$3]},
 "data": {"train": "$2"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 2, "batch_size": 8, "seed": 1, "verbose": 0}}
JSON
  "$plugfit" train "$1.json" --checkpoint "dir:$1.ckpt" >/dev/null || fail "training $1 on $2"
  "$plugfit" predict "dir:$1.ckpt" --input "$4" --output "$1.npy" >/dev/null || fail "predicting $4 with $1"
}
dense='{"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}'

case "$case_name" in
  seq_token_forms)
    py -c '
import numpy as np
r = np.random.default_rng(0)
ids = r.integers(0, 500, size=(40, 7))
ids[:, -2:] = 499  # the largest id input_dim 500 takes
ids[:4, :3] = 0    # padding, as pad_sequences leaves it
y = ids[:, 0] % 3
np.save("T32.npy", ids.astype(np.int32))
np.save("T64.npy", ids.astype(np.int64))
np.save("Tf.npy", ids.astype(np.float32))
np.save("Y.npy", y.astype(np.float32))
np.savetxt("tokens.csv", np.hstack([ids, y.reshape(-1, 1)]), delimiter=",", fmt="%d", header="t0,t1,t2,t3,t4,t5,t6,y", comments="")
# A token list file, label first, of lists that pad_sequences(maxlen=7) makes ids again: the
# leading zeros of a row left out (padding puts them back) or up to 2 extra ids before it (cut).
with open("lists.txt", "w") as f:
    for i, (row, label) in enumerate(zip(ids, y)):
        lead = int(np.argmax(row != 0))  # leading zeros, which pre-padding puts back
        extra = [int(v) for v in r.integers(1, 500, size=i % 3)] if lead == 0 else []
        f.write(" ".join(str(v) for v in [int(label)] + extra + [int(v) for v in row[lead:]]) + "\n")'
    layers='{"class_name": "Embedding", "config": {"input_dim": 500, "output_dim": 8, "mask_zero": true}},
      {"class_name": "GlobalAveragePooling1D", "config": {}}, '"$dense"
    train_predict i32 npy:T32.npy,Y.npy "$layers" T32.npy
    train_predict i64 npy:T64.npy,Y.npy "$layers" T64.npy
    train_predict f32 npy:Tf.npy,Y.npy "$layers" Tf.npy
    train_predict csv csv:tokens.csv,label=y "$layers" csv:tokens.csv,label=y
    train_predict lists tokens:lists.txt,maxlen=7 "$layers" tokens:lists.txt,maxlen=7,label=first
    py - <<'PY' || fail "the token forms trained or predicted differently"
import numpy as np
base = np.load("i32.npy")
assert base.shape == (40, 3), base.shape
for name in ("i64", "f32", "csv", "lists"):
    other = np.load(name + ".npy")
    assert other.tobytes() == base.tobytes(), name
print("int32, int64, float32 npy, CSV and tokens: lists: bit-identical predictions", base.shape)
PY
    ;;
  seq_float_sequences)
    py -c '
import numpy as np
r = np.random.default_rng(1)
x = r.normal(size=(48, 9)).astype(np.float32)
y = (x.sum(1) > 0).astype(np.float32) + (x[:, 0] > 1)
np.save("S.npy", x[:, :, None].copy())  # (n, steps, 1)
np.save("S2.npy", x)                    # (n, steps)
np.save("S3.npy", np.stack([x, -x, x * x], axis=2))  # (n, steps, 3)
np.save("Y.npy", y.astype(np.float32))'
    lstm='{"class_name": "LSTM", "config": {"units": 5}}'
    train_predict three npy:S3.npy,Y.npy "$lstm, $dense" S3.npy
    py -c 'import numpy as np; p = np.load("three.npy"); assert p.shape == (48, 3) and abs(p.sum(1) - 1).max() < 1e-5, p.shape' ||
      fail "an LSTM on (n, 9, 3) sequences did not predict (48, 3) probabilities"
    # A model declared on (9, 1) takes (n, 9) series as it takes (n, 9, 1).
    declared='{"class_name": "InputLayer", "config": {"batch_shape": [null, 9, 1]}}, '"$lstm, $dense"
    train_predict with_axis npy:S.npy,Y.npy "$declared" S.npy
    train_predict without_axis npy:S2.npy,Y.npy "$declared" S2.npy
    cmp -s with_axis.npy without_axis.npy || fail "(n, 9) and (n, 9, 1) series trained or predicted differently"
    echo "(n, 9) and (n, 9, 1) series: identical predictions"
    ;;
  seq_fashion_rows)
    dir=${PLUGFIT_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
    [ -f "$dir/t10k-images-idx3-ubyte.gz" ] || skip "Fashion-MNIST is not installed in $dir (apt-get install dataset-fashion-mnist)"
    # Fashion-MNIST's test split as training data: 10,000 images of (28, 28), each 28 rows of 28 pixels.
    cat >run.json <<JSON
{"model": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 28, 28]}},
                      {"class_name": "LSTM", "config": {"units": 16}},
                      {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]},
 "data": {"train": "fashion-mnist:test", "test": "fashion-mnist:test"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 1, "batch_size": 32, "seed": 1, "verbose": 2}}
JSON
    "$plugfit" train run.json | tee out.txt || fail "an LSTM on Fashion-MNIST rows did not train"
    acc=$(sed -n 's/^Test: .*accuracy: \([0-9.]*\).*/\1/p' out.txt | tail -1)
    [ -n "$acc" ] || fail "no test accuracy printed"
    py -c "import sys; sys.exit(0 if float('$acc') >= 0.5 else 1)" || fail "test accuracy $acc < 0.5 after one epoch"
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
echo "ok: $case_name"
