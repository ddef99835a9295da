#!/usr/bin/env bash
# Bad image models end to end: each run file `plugfit train` refuses exits 2 with one sentence
# on stderr naming the layer (its name and class) and the shapes or values at fault.
# Usage: image_refusals_cases.sh PLUGFIT SOURCE_ROOT CASE
source "$(dirname "$0")/lib.sh"

py -c 'import numpy' 2>/dev/null || fail "Debian's python3-numpy is needed (scripts/setup installs them)"
py -c '
import numpy as np
r = np.random.default_rng(0)
for h in (2, 3, 8):
    np.save("X%d.npy" % h, r.uniform(size=(8, h, h, 1)).astype(np.float32))
np.save("X8c3.npy", r.uniform(size=(8, 8, 8, 3)).astype(np.float32))
np.save("F12.npy", r.uniform(size=(8, 12)).astype(np.float32))
np.save("Y.npy", (np.arange(8) % 2).astype(np.float32))'

head='{"class_name": "Flatten", "config": {}}, {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}'
# refused INPUTS LAYERS PATTERN: a run on npy:INPUTS of LAYERS (then $head unless LAYERS ends
# the model itself with "!") is refused with one line matching PATTERN, exit 2.
refused() {
  local inputs=$1 layers=$2 pattern=$3
  case $layers in *'!') layers=${layers%!} ;; *) layers="$layers, $head" ;; esac
  cat >run.json <<JSON
{"model": {"layers": [$layers]},
 "data": {"train": "npy:$inputs,Y.npy"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
 "fit": {"epochs": 1, "batch_size": 4, "seed": 1, "verbose": 0}}
JSON
  expect_error 2 "^plugfit: error: (run\.json: )?$pattern$" "$plugfit" train run.json
}

case "$case_name" in
  image_bad_input)
    refused X3.npy '{"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": 5}}' \
      'layer "conv2d" \(Conv2D\): the kernel \(5, 5\) with its dilation is larger than the input image \(3, 3\) under padding "valid"'
    refused X2.npy '{"class_name": "MaxPooling2D", "config": {"pool_size": 4}}' \
      'layer "max_pooling2d" \(MaxPooling2D\): pool_size \(4, 4\) is larger than its input \(None, 2, 2, 1\) with padding "valid"; use padding "same" or a smaller pool'
    refused X8.npy '{"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": 3, "padding": "full"}}' \
      'layer "conv2d" \(Conv2D\): padding must be "valid" or "same", got "full"'
    for rate in -0.1 1.5; do
      refused X8.npy '{"class_name": "Dropout", "config": {"rate": '$rate'}}' \
        'layer "dropout" \(Dropout\): "rate" must be in \[0, 1\), got '$rate
      refused X8.npy '{"class_name": "SpatialDropout2D", "config": {"rate": '$rate'}}' \
        'layer "spatial_dropout2d" \(SpatialDropout2D\): rate must be in \[0, 1\), got '$rate
    done
    refused X8.npy '{"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": 3, "strides": 0}}' \
      'layer "conv2d" \(Conv2D\): strides must hold integers of at least 1, got 0'
    refused X8.npy '{"class_name": "Flatten", "config": {}}, {"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": 3}}' \
      'layer "conv2d" \(Conv2D\) expects input of shape \(None, height, width, channels\), got \(None, 64\)'
    refused F12.npy '{"class_name": "InputLayer", "config": {"batch_shape": [null, 10]}}, {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}!' \
      'the training data npy:F12.npy,Y.npy has samples of shape \(None, 12\) but the model.s first layer "input_layer" expects \(None, 10\)'
    refused F12.npy '{"class_name": "Dense", "config": {"units": 2, "activation": "softmax", "input_shape": [10]}}!' \
      'the training data npy:F12.npy,Y.npy has samples of shape \(None, 12\) but the model.s first layer "dense" expects \(None, 10\)'
    refused X8.npy '{"class_name": "Reshape", "config": {"target_shape": [7, 9]}}' \
      'layer "reshape" \(Reshape\): the total size of the tensor must be unchanged, got input \(None, 8, 8, 1\) \(64 values\) and target_shape \(7, 9\)'
    refused X8.npy '{"class_name": "Cropping2D", "config": {"cropping": [[4, 4], [0, 0]]}}' \
      'layer "cropping2d" \(Cropping2D\): cropping \[\[4,4\],\[0,0\]\] leaves nothing of its input \(None, 8, 8, 1\)'
    refused X8c3.npy '{"class_name": "Conv2D", "config": {"filters": 4, "kernel_size": 3, "groups": 2}}' \
      'layer "conv2d" \(Conv2D\): the input.s 3 channels are not divisible by "groups" \(2\)'
    refused X8c3.npy '{"class_name": "Conv2D", "config": {"filters": 4, "kernel_size": 3, "groups": 3}}' \
      'layer "conv2d" \(Conv2D\): "filters" \(4\) must be divisible by "groups" \(3\)'
    # A named layer is named as its config names it.
    refused X8.npy '{"class_name": "Conv2D", "config": {"name": "stem", "filters": 2, "kernel_size": 3, "padding": "full"}}' \
      'layer "stem" \(Conv2D\): padding must be "valid" or "same", got "full"'
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
echo "ok: $case_name"
