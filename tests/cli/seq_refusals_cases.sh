#!/usr/bin/env bash
# Bad sequence input end to end (issue 13): a token id an Embedding cannot look up (named by its
# sample and step in the data, for train, evaluate and predict), a sequence of the wrong rank for
# a recurrent layer or Conv1D, a mask reaching a layer that cannot take one, and stateful RNNs:
# each exits 2 with one sentence on stderr naming the layer and the shape or value at fault.
# Usage: seq_refusals_cases.sh PLUGFIT SOURCE_ROOT CASE
source "$(dirname "$0")/lib.sh"

py -c 'import numpy' 2>/dev/null || fail "Debian's python3-numpy is needed (scripts/setup installs them)"
py -c '
import numpy as np
r = np.random.default_rng(0)
ids = r.integers(1, 50, size=(8, 5))
np.save("T.npy", ids.astype(np.int32))
bad = ids.copy(); bad[6, 2] = 1200
np.save("T_big.npy", bad.astype(np.int32))
bad = ids.copy(); bad[3, 0] = -1
np.save("T_negative.npy", bad.astype(np.int64))
bad = ids.copy(); bad[2, 3] = 2**24 - 1
np.save("T_exact.npy", bad.astype(np.int64))
bad = ids.astype(np.float32); bad[5, 4] = 2.5
np.save("T_fraction.npy", bad)
labels = np.arange(8) % 2
bad = ids.copy(); bad[4, 1] = 1000
np.savetxt("tokens.csv", np.hstack([bad, labels.reshape(8, 1)]), delimiter=",", fmt="%d")
np.save("Y.npy", labels.astype(np.float32))
np.save("S.npy", r.uniform(size=(8, 6, 3)).astype(np.float32))
np.save("F.npy", r.uniform(size=(8, 12)).astype(np.float32))
np.save("I.npy", r.uniform(size=(8, 6, 3, 1)).astype(np.float32))'

embedding='{"class_name": "Embedding", "config": {"input_dim": 1000, "output_dim": 4}}'
pool='{"class_name": "GlobalAveragePooling1D", "config": {}}'
dense='{"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}'
# write_run TRAIN LAYERS [VALIDATION]: run.json training LAYERS on the data spec TRAIN.
write_run() {
  local validation=${3:+, \"validation\": \"$3\"}
  cat >run.json <<JSON
{"model": {"layers": [$2]},
 "data": {"train": "$1"$validation},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
 "fit": {"epochs": 1, "batch_size": 4, "seed": 1, "verbose": 0}}
JSON
}
# refused TRAIN LAYERS PATTERN: training LAYERS on TRAIN is refused with one line matching PATTERN.
refused() {
  write_run "$1" "$2"
  expect_error 2 "^plugfit: error: (run\.json: )?$3$" "$plugfit" train run.json
}
outside() { echo "sample $1 holds token id $2 at step $3, outside input_dim 1000 of layer \"embedding\" \\(Embedding\\)"; }

case "$case_name" in
  seq_token_id_refused)
    # The sample and step are the data's (training shuffles the batches), before any training.
    refused npy:T_big.npy,Y.npy "$embedding, $pool, $dense" "the training data npy:T_big.npy,Y.npy: $(outside 6 1200 2)"
    refused npy:T_negative.npy,Y.npy "$embedding, $pool, $dense" "the training data npy:T_negative.npy,Y.npy: $(outside 3 -1 0)"
    refused npy:T_fraction.npy,Y.npy "$embedding, $pool, $dense" "the training data npy:T_fraction.npy,Y.npy: $(outside 5 2.5 4)"
    # 2^24 - 1, the largest id float32 holds exactly, arrives as written.
    refused npy:T_exact.npy,Y.npy "$embedding, $pool, $dense" "the training data npy:T_exact.npy,Y.npy: $(outside 2 16777215 3)"
    refused csv:tokens.csv "$embedding, $pool, $dense" "the training data csv:tokens.csv: $(outside 4 1000 1)"
    # After an InputLayer the Embedding still reads the data's ids.
    refused npy:T_big.npy,Y.npy '{"class_name": "InputLayer", "config": {"batch_shape": [null, 5]}}, '"$embedding, $pool, $dense" \
      "the training data npy:T_big.npy,Y.npy: $(outside 6 1200 2)"
    write_run npy:T.npy,Y.npy "$embedding, $pool, $dense" npy:T_big.npy,Y.npy
    expect_error 2 "^plugfit: error: the validation data npy:T_big.npy,Y.npy: $(outside 6 1200 2)$" "$plugfit" train run.json
    # A trained model refuses them in evaluate and predict too, with nothing written.
    write_run npy:T.npy,Y.npy "$embedding, $pool, $dense"
    "$plugfit" train run.json --checkpoint dir:ckpts >/dev/null || fail "training on good ids"
    expect_error 2 "^plugfit: error: the evaluation data npy:T_big.npy,Y.npy: $(outside 6 1200 2)$" \
      "$plugfit" evaluate dir:ckpts --data npy:T_big.npy,Y.npy
    expect_error 2 "^plugfit: error: the input npy:T_big.npy: $(outside 6 1200 2)$" \
      "$plugfit" predict dir:ckpts --input T_big.npy --output p.npy
    [ ! -e p.npy ] || fail "predict wrote p.npy from refused ids"
    # A vocabulary float32 ids cannot all hold exactly is refused before any weight is made.
    refused npy:T.npy,Y.npy '{"class_name": "Embedding", "config": {"input_dim": 16777217, "output_dim": 1}}, '"$pool, $dense" \
      'layer "embedding" \(Embedding\): "input_dim" 16777217 is above 16777216 \(2\^24\), the most token ids float32 inputs hold exactly'
    ;;
  seq_wrong_rank_refused)
    for class in LSTM GRU SimpleRNN; do
      name=$(echo "$class" | tr 'A-Z' 'a-z' | sed 's/simplernn/simple_rnn/')
      refused npy:F.npy,Y.npy '{"class_name": "'$class'", "config": {"units": 3}}, '"$dense" \
        "layer \"$name\" \\($class\\) expects input of shape \\(None, steps, features\\), got \\(None, 12\\)"
      refused npy:I.npy,Y.npy '{"class_name": "'$class'", "config": {"units": 3}}, '"$dense" \
        "layer \"$name\" \\($class\\) expects input of shape \\(None, steps, features\\), got \\(None, 6, 3, 1\\)"
    done
    refused npy:S.npy,Y.npy '{"class_name": "Flatten", "config": {}}, {"class_name": "LSTM", "config": {"units": 3}}, '"$dense" \
      'layer "lstm" \(LSTM\) expects input of shape \(None, steps, features\), got \(None, 18\)'
    refused npy:I.npy,Y.npy '{"class_name": "Conv1D", "config": {"filters": 2, "kernel_size": 3}}, '"$pool, $dense" \
      'layer "conv1d" \(Conv1D\) expects input of shape \(None, steps, channels\), got \(None, 6, 3, 1\)'
    refused npy:F.npy,Y.npy '{"class_name": "Conv1D", "config": {"filters": 2, "kernel_size": 3}}, '"$pool, $dense" \
      'layer "conv1d" \(Conv1D\) expects input of shape \(None, steps, channels\), got \(None, 12\)'
    # Token ids (n, steps) where the model declares float sequences: both shapes named.
    refused npy:T.npy,Y.npy '{"class_name": "InputLayer", "config": {"batch_shape": [null, 6, 3]}}, {"class_name": "LSTM", "config": {"units": 3}}, '"$dense" \
      'the training data npy:T.npy,Y.npy has samples of shape \(None, 5\) but the model.s first layer "input_layer" expects \(None, 6, 3\)'
    refused npy:S.npy,Y.npy "$embedding, $pool, $dense" \
      'layer "embedding" \(Embedding\) expects input of shape \(None, steps\) of token ids, got \(None, 6, 3\)'
    ;;
  seq_mask_refused)
    refused npy:T.npy,Y.npy '{"class_name": "Embedding", "config": {"input_dim": 1000, "output_dim": 4, "mask_zero": true}}, {"class_name": "Flatten", "config": {}}, '"$dense" \
      'layer "flatten" \(Flatten\) cannot take the mask that layer "embedding" \(Embedding\) passes on; put a layer that consumes it \(an RNN, GlobalAveragePooling1D\) before it'
    refused npy:S.npy,Y.npy '{"class_name": "Masking", "config": {}}, {"class_name": "Conv1D", "config": {"filters": 2, "kernel_size": 3}}, '"$pool, $dense" \
      'layer "conv1d" \(Conv1D\) cannot take the mask that layer "masking" \(Masking\) passes on; put a layer that consumes it \(an RNN, GlobalAveragePooling1D\) before it'
    # A recurrent layer consumes the mask: the same data trains.
    write_run npy:S.npy,Y.npy '{"class_name": "Masking", "config": {}}, {"class_name": "LSTM", "config": {"units": 3}}, '"$dense"
    "$plugfit" train run.json >/dev/null || fail "Masking -> LSTM did not train"
    ;;
  seq_stateful_refused)
    for class in LSTM GRU SimpleRNN; do
      name=$(echo "$class" | tr 'A-Z' 'a-z' | sed 's/simplernn/simple_rnn/')
      refused npy:S.npy,Y.npy '{"class_name": "'$class'", "config": {"units": 3, "stateful": true}}, '"$dense" \
        "layer \"$name\" \\($class\\): \"stateful\" true is not supported; every batch starts from a zero state"
    done
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
echo "ok: $case_name"
