#!/usr/bin/env bash
# End-to-end tests of the plugfit command. Usage: cli_cases.sh PLUGFIT SOURCE_ROOT CASE
# Each case is one meson test; it prints what it checked and exits non-zero on failure.
# TEST_PLUGINS (4th argument) is the folder of the test plugins (tests/plugins in the build).
set -uo pipefail
plugfit=$1
root=$2
case_name=$3
test_plugins=${4:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

fail() { echo "FAIL: $*"; exit 1; }

# expect_error CODE PATTERN COMMAND...: the command exits with CODE, prints one line on stderr
# matching PATTERN (grep -E), and nothing that looks like a crash.
expect_error() {
  local code=$1 pattern=$2
  shift 2
  "$@" >stdout.txt 2>stderr.txt
  local got=$?
  echo "\$ $* -> exit $got: $(cat stderr.txt)"
  [ "$got" -eq "$code" ] || fail "exit code $got, expected $code"
  [ "$(wc -l <stderr.txt)" -eq 1 ] || fail "expected one line on stderr, got: $(cat stderr.txt)"
  grep -Eq -- "$pattern" stderr.txt || fail "stderr does not match /$pattern/"
  ! grep -Eqi "terminate|core dumped|Segmentation|Aborted" stderr.txt || fail "crash text on stderr"
}

write_run() {  # write_run FILE MODEL_JSON [EXTRA_TOP_LEVEL_JSON]
  cat >"$1" <<JSON
{"model": $2, "data": {"train": "synthetic:samples=64,features=4,classes=3"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 1, "batch_size": 16, "seed": 1, "verbose": 0}${3:-}}
JSON
}
small_model='{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]}}'

# test accuracy of `plugfit train RUN` as printed on its "Test:" line
test_accuracy() { sed -n 's/^Test: .*accuracy: \([0-9.]*\).*/\1/p' | tail -1; }

case "$case_name" in
  help_version)
    "$plugfit" --help | grep -q "usage: plugfit" || fail "--help"
    "$plugfit" --version | grep -Eq "^plugfit [0-9]+\.[0-9]+\.[0-9]+ \(SDK ABI [0-9]+\.[0-9]+\)$" || fail "--version"
    expect_error 2 "unknown command \"trian\"" "$plugfit" trian x.json
    expect_error 2 "unknown option --epoch; usage: plugfit train" "$plugfit" train x.json --epoch 3
    expect_error 2 "missing RUN.json" "$plugfit" train
    ;;
  malformed_json)
    printf '{"model": {\n  "layers": [,]\n}}\n' >run.json
    expect_error 2 "^plugfit: error: run.json:2:14: malformed JSON" "$plugfit" train run.json
    ;;
  unknown_names)
    write_run run.json '{"layers": [{"class_name": "Dense", "config": {"units": 3}}, {"class_name": "Conv9D"}]}'
    expect_error 2 'layer 1 \(Conv9D\): unknown layer "Conv9D" \(known: Activation, Dense, Dropout, Flatten, InputLayer\)' \
      "$plugfit" train run.json
    write_run run.json "$small_model"
    sed -i 's/"optimizer": "adam"/"optimizer": "adamw"/' run.json
    expect_error 2 'unknown optimizer "adamw" \(known: .*Adam.*RMSprop.*SGD' "$plugfit" train run.json
    write_run run.json "$small_model" ', "fitt": {}'
    expect_error 2 'run.json has no option "fitt"' "$plugfit" train run.json
    ;;
  shape_mismatch)
    write_run run.json '{"layers": [{"class_name": "Dense", "config": {"units": 3, "input_shape": [5]}}]}'
    expect_error 2 "has samples of shape \(None, 4\) but the model's first layer \"dense\" expects \(None, 5\)" \
      "$plugfit" train run.json
    write_run run.json '{"layers": [{"class_name": "Dense", "config": {"units": 3}}]}'
    sed -i "s|synthetic:samples=64,features=4,classes=3|idx:/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz,/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz|" run.json
    expect_error 2 'layer "dense" \(Dense\) expects input of shape \(None, features\), got \(None, 28, 28\)' \
      "$plugfit" train run.json
    write_run run.json '{"layers": [{"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]}'
    sed -i 's/classes=3/classes=5/' run.json
    expect_error 2 "label 4 \(sample [0-9]+ of the batch\) is not a class index for 3 classes" "$plugfit" train run.json
    ;;
  missing_dataset)
    write_run run.json "$small_model"
    sed -i 's/synthetic:samples=64,features=4,classes=3/fashion-mnist:train/' run.json
    expect_error 2 "/nonexistent/train-images-idx3-ubyte.gz.*dataset-fashion-mnist" \
      env PLUGFIT_FASHION_MNIST_DIR=/nonexistent "$plugfit" train run.json
    ;;
  truncated_idx)
    src=/usr/share/datasets/fashion-mnist
    gzip -dc "$src/t10k-images-idx3-ubyte.gz" | head -c 100000 >images.idx
    gzip -dc "$src/t10k-labels-idx1-ubyte.gz" >labels.idx
    write_run run.json "$small_model"
    sed -i "s|synthetic:samples=64,features=4,classes=3|idx:images.idx,labels.idx|" run.json
    expect_error 2 "images.idx.*truncated" "$plugfit" train run.json
    printf 'not an idx file at all' >images.idx
    expect_error 2 "images.idx" "$plugfit" train run.json
    chmod 000 labels.idx
    if [ "$(id -u)" -ne 0 ]; then expect_error 2 "labels.idx" "$plugfit" train run.json; fi
    ;;
  callback_unknown_key)
    write_run run.json "$small_model"
    sed -i 's/"batch_size": 16/"batch_sise": 16/' run.json
    expect_error 2 '"fit" has no option "batch_sise"' "$plugfit" train run.json
    ;;
  sample_run_accuracy)
    # The README's sample: 784-128-10, Adam, batch 32, 5 epochs; at least 0.86 test accuracy.
    acc=$("$plugfit" train "$root/sample_models/fashion_mlp_run.json" --verbose 2 | tee out.txt | test_accuracy)
    cat out.txt
    [ -n "$acc" ] || fail "no test accuracy printed"
    /usr/bin/python3 -c "import sys; sys.exit(0 if float('$acc') >= 0.86 else 1)" || fail "test accuracy $acc < 0.86"
    ;;
  deep_mlp_accuracy)
    # 784-256-128-10 for 10 epochs: at least 0.88 test accuracy (the published MLP figure is 0.8833).
    acc=$("$plugfit" train "$root/sample_models/fashion_mlp_256_128_run.json" | tee out.txt | test_accuracy)
    cat out.txt
    /usr/bin/python3 -c "import sys; sys.exit(0 if float('$acc') >= 0.88 else 1)" || fail "test accuracy $acc < 0.88"
    ;;
  peak_rss)
    # A Fashion-MNIST run stays under 400 MB resident (the float32 training set alone is 188 MB).
    rss_kb=$(/usr/bin/python3 - "$plugfit" "$root/sample_models/fashion_mlp_run.json" <<'PY'
import resource, subprocess, sys
subprocess.run([sys.argv[1], "train", sys.argv[2], "--epochs", "1", "--verbose", "0"], check=True,
               stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
)
    echo "peak RSS: $((rss_kb / 1024)) MB"
    [ "$rss_kb" -le $((400 * 1024)) ] || fail "peak RSS ${rss_kb} kB > 400 MB"
    ;;
  seed_determinism)
    write_run run.json '{"layers": [{"class_name": "Dense", "config": {"units": 8, "activation": "relu"}}, {"class_name": "Dropout", "config": {"rate": 0.3}}, {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]}'
    sed -i 's/"epochs": 1/"epochs": 3/; s/"verbose": 0/"verbose": 2/' run.json
    "$plugfit" train run.json --seed 5 >a.txt 2>&1 || fail "run a"
    "$plugfit" train run.json --seed 5 >b.txt 2>&1 || fail "run b"
    "$plugfit" train run.json --seed 6 >c.txt 2>&1 || fail "run c"
    strip_time() { sed -E 's/ - [0-9]+s - [0-9]+[mu]?s\/step//' "$1"; }
    [ "$(strip_time a.txt)" = "$(strip_time b.txt)" ] || fail "same seed, different logs"
    [ "$(strip_time a.txt)" != "$(strip_time c.txt)" ] || fail "different seeds, same logs"
    ;;
  plugin_custom_layer)
    # A run file listing plugins: ["custom_layers"] trains a model using custom_layers>MyCustomLayer.
    acc=$("$plugfit" train "$root/sample_models/custom_layer_run.json" --epochs 1 | tee out.txt | test_accuracy)
    cat out.txt
    /usr/bin/python3 -c "import sys; sys.exit(0 if float('$acc') >= 0.8 else 1)" || fail "test accuracy $acc < 0.8"
    # The qualified name alone loads the plugin by name (no "plugins" list, no --plugin).
    sed 's/"plugins": \["custom_layers"\],//' "$root/sample_models/custom_layer_run.json" >run.json
    sed -i 's/fashion-mnist:train/synthetic:samples=64,features=784,classes=10/; s/"fashion-mnist:test"/null/' run.json
    sed -i 's/"input_shape": \[28, 28\]/"input_shape": [784]/' run.json
    "$plugfit" train run.json --verbose 0 || fail "training with an auto-loaded plugin"
    ;;
  plugin_not_found)
    write_run run.json "$small_model"
    expect_error 2 'plugin "nope" was not found \(looked for nope.so in: .*/extra/dir, ' \
      "$plugfit" train run.json --plugin nope --plugin-path extra/dir
    write_run run.json '{"layers": [{"class_name": "acme>Scale"}]}'
    expect_error 2 'plugin "acme" was not found' "$plugfit" train run.json
    write_run run.json "$small_model" ', "plugins": ["/tmp/evil.so"]'
    expect_error 2 '"/tmp/evil.so" is not a plugin name' "$plugfit" train run.json
    ;;
  plugin_refusals_listed)
    "$plugfit" plugins --plugin-path "$test_plugins" >list.txt || fail "plugfit plugins"
    cat list.txt
    grep -q "^faulty 0.0.1 (SDK ABI 1.0) $test_plugins/faulty.so" list.txt || fail "faulty not listed"
    grep -q "^custom_layers 0.1.0" list.txt || fail "custom_layers not listed"
    for reason in "bad_abi_major.so: .*was built for SDK ABI 2.0" "bad_abi_minor.so: .*newer than this plugfit" \
                  "bad_toolchain.so: .*toolchain" "bad_no_descriptor.so: .*is not a plugfit plugin" \
                  "bad_register_throws.so: .*failed to register its types: no licence key found" \
                  "bad_duplicate_type.so: .*registered twice" "bad_wrong_name.so: .*declares \"someone_else\""; do
      grep -Eq "^refused .*$reason" list.txt || fail "no refusal matching /$reason/"
    done
    # A plugin whose dependency library is missing: the loader's own text. (Copied away from the
    # dependency, and without the LD_LIBRARY_PATH the test runner sets.)
    mkdir moved && cp "$test_plugins/bad_missing_dependency.so" moved/
    env -u LD_LIBRARY_PATH "$plugfit" plugins --plugin-path moved >moved.txt
    cat moved.txt
    grep -q "^refused $PWD/moved/bad_missing_dependency.so: plugin file $PWD/moved/bad_missing_dependency.so cannot be loaded: libplugfit_test_dependency.so: cannot open shared object file" moved.txt ||
      fail "missing dependency not reported with the loader's text"
    "$plugfit" plugins --json --plugin-path "$test_plugins" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert any(p["name"] == "faulty" and p["abi"] == "1.0" for p in d["plugins"]), d
assert len(d["refused"]) >= 7, d["refused"]' || fail "plugins --json"
    ;;
  plugin_callback_throws)
    # A callback that throws in on_epoch_end: exit 1, one sentence naming plugin, type and hook;
    # on_exception and on_train_end ran.
    write_run run.json "$small_model" ', "callbacks": [{"class_name": "faulty>Thrower", "config": {"trace": "trace.txt"}}]'
    expect_error 1 '^plugfit: error: callback faulty>Thrower \(plugin faulty 0.0.1\) failed in on_epoch_end: deliberate failure$' \
      "$plugfit" train run.json --plugin-path "$test_plugins"
    cat trace.txt
    grep -q "^on_exception: callback faulty>Thrower" trace.txt || fail "on_exception did not run"
    [ "$(tail -1 trace.txt)" = "on_train_end" ] || fail "on_train_end did not run last"
    write_run run.json "$small_model" ', "callbacks": [{"class_name": "faulty>BadInit"}]'
    expect_error 1 'callback faulty>BadInit \(plugin faulty 0.0.1\) failed in its constructor: cannot reach' \
      "$plugfit" train run.json --plugin-path "$test_plugins"
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
echo "ok: $case_name"
