#!/usr/bin/env bash
# End-to-end tests of the plugfit command. Usage: cli_cases.sh PLUGFIT SOURCE_ROOT CASE
# Each case is one meson test; it prints what it checked and exits non-zero on failure.
# TEST_PLUGINS (4th argument) is the folder of the test plugins (tests/plugins in the build).
source "$(dirname "$0")/lib.sh"

write_run() {  # write_run FILE MODEL_JSON [EXTRA_TOP_LEVEL_JSON]
  cat >"$1" <<JSON
{"model": $2, "data": {"train": "synthetic:samples=64,features=4,classes=3"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 1, "batch_size": 16, "seed": 1, "verbose": 0}${3:-}}
JSON
}
# write_mlp_run FILE [EXTRA]: a small MLP with dropout on synthetic linear data, 10% validation.
write_mlp_run() {
  cat >"$1" <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 16, "activation": "relu"}},
                      {"class_name": "Dropout", "config": {"rate": 0.2}},
                      {"class_name": "Dense", "config": {"units": 4, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=512,features=20,classes=4,labels=linear"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 2, "batch_size": 32, "validation_split": 0.2, "seed": 4, "verbose": 2}${2:-}}
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
    expect_error 2 "^plugfit train: unknown option --epoch; did you mean --epochs\?$" "$plugfit" train x.json --epoch 3
    expect_error 2 "missing RUN.json" "$plugfit" train
    ;;
  malformed_json)
    printf '{"model": {\n  "layers": [,]\n}}\n' >run.json
    expect_error 2 "^plugfit: error: run.json:2:14: malformed JSON" "$plugfit" train run.json
    ;;
  unknown_names)
    write_run run.json '{"layers": [{"class_name": "Dense", "config": {"units": 3}}, {"class_name": "Conv9D"}]}'
    expect_error 2 'layer 1 \(Conv9D\): unknown layer "Conv9D" \(known: Activation, .*Conv2D, .*Dense, .*Dropout, .*\)' \
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
  layer_dtype_refused)
    write_run run.json '{"layers": [{"class_name": "Dense", "config": {"units": 3, "dtype": "mixed_float16"}}]}'
    expect_error 2 'layer "dense" \(Dense\): dtype "mixed_float16" is not supported; plugfit computes in float32' \
      "$plugfit" train run.json
    write_run run.json '{"layers": [{"class_name": "Dense", "config": {"units": 3, "lora_rank": 8}}]}'
    expect_error 2 'layer "dense" \(Dense\): lora_rank 8 is not supported' "$plugfit" train run.json
    write_run run.json '{"layers": [{"class_name": "Dense", "config": {"units": 3, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "lora_rank": null}}]}'
    "$plugfit" train run.json >out.txt 2>&1 || fail "a float32 DTypePolicy is refused: $(cat out.txt)"
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
    grep -q "^faulty 0.0.1 (SDK ABI 4\.[0-9]*) $test_plugins/faulty.so" list.txt || fail "faulty not listed"
    grep -q "^custom_layers 0.1.0" list.txt || fail "custom_layers not listed"
    for reason in "bad_abi_major.so: .*was built for SDK ABI 5.0" "bad_abi_minor.so: .*newer than this plugfit" \
                  "bad_toolchain.so: .*toolchain" "bad_no_descriptor.so: .*is not a plugfit plugin" \
                  "bad_register_throws.so: .*failed to register its types: no licence key found" \
                  "bad_duplicate_type.so: .*registered twice" "bad_wrong_name.so: .*declares \"someone_else\"" \
                  "bad_forged_provider.so: .*cannot register the callback \"custom_layers>Noop\"" \
                  "bad_bare_name.so: .*cannot register the callback \">Noop\""; do
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
assert any(p["name"] == "faulty" and p["abi"].startswith("4.") for p in d["plugins"]), d
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
    # A plugin's plugfit::InputError reaches the host as InputError (exit 2, its own sentence):
    # libplugfit's hidden visibility keeps the SDK's exception typeinfo exported.
    write_run run.json "$small_model" ', "callbacks": [{"class_name": "faulty>Refuses", "config": {"level": 9}}]'
    expect_error 2 '^plugfit: error: run.json: callback faulty>Refuses: "level" must be at most 3, not 9$' \
      "$plugfit" train run.json --plugin-path "$test_plugins"
    ;;
  seed_best_weights)
    # Seed (a): ModelCheckpoint keeps the best weights by val_loss; a second run starts from them.
    write_mlp_run run.json ', "callbacks": [{"class_name": "ModelCheckpoint", "config": {"filepath": "best/w.{epoch:02d}-{val_loss:.4f}", "monitor": "val_loss", "save_best_only": true, "save_weights_only": true, "verbose": 1}}]'
    "$plugfit" train run.json --epochs 4 >out.txt || fail "first run"
    cat out.txt
    grep -Eq "^Epoch 1: val_loss improved from inf to [0-9.]+, saving model to dir:$PWD/best/w.01-" out.txt ||
      fail "no Keras-style improvement message"
    best=$(/usr/bin/python3 -c "import json; print(json.load(open('best/index.json'))['best']['name'])")
    echo "best: $best"
    "$plugfit" inspect dir:best | tee inspect.txt
    grep -q "weights" inspect.txt || fail "weights-only checkpoints not shown as such"
    write_mlp_run second.json ", \"load_weights\": \"dir:best#best\""
    "$plugfit" train second.json --epochs 1 | tee second.txt
    grep -q "^Loaded weights from dir:$PWD/best/$best" second.txt || fail "second run did not load the best weights"
    # The second run's first validation loss starts from the best weights: no worse than the best.
    /usr/bin/python3 - "$best" <<'PY' || fail "second run did not start from the best weights"
import json, re, sys
best = float(sys.argv[1].split("-")[-1])
line = [l for l in open("second.txt") if "val_loss" in l][-1]
first = float(re.search(r"val_loss: ([0-9.]+)", line).group(1))
print("best", best, "second run val_loss", first)
sys.exit(0 if first <= best + 0.05 else 1)
PY
    ;;
  seed_resume_exact)
    # Seed (b): 4 epochs equal, bit for bit, 2 epochs plus 2 resumed (Adam state, dropout RNG, data order).
    write_mlp_run run.json
    "$plugfit" train run.json --epochs 4 --checkpoint dir:straight --verbose 0 || fail "straight run"
    "$plugfit" train run.json --epochs 2 --checkpoint dir:split --verbose 0 || fail "first half"
    "$plugfit" train run.json --epochs 4 --checkpoint dir:split --resume | tee resume.txt || fail "resumed half"
    grep -q "^Resuming from dir:$PWD/split/ckpt-0002 after epoch 2 (continuing with epoch 3)" resume.txt || fail "did not resume from ckpt-0002"
    same_tensors straight/ckpt-0004 split/ckpt-0004 || fail "resumed weights or optimizer state differ"
    ;;
  seed_dynamic_reload)
    # Seed (c): DynamicReloadCheckpoint reloads the best checkpoint when val_loss stops improving.
    cat >run.json <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 64, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 5, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=400,features=20,classes=5,labels=random,seed=3"},
 "compile": {"optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.5}}, "loss": "sparse_categorical_crossentropy"},
 "plugins": ["dynamic_reload"],
 "callbacks": [{"class_name": "ModelCheckpoint", "config": {"filepath": "best/model", "save_best_only": true}},
               {"class_name": "dynamic_reload>DynamicReloadCheckpoint", "config": {"checkpoint": "dir:best"}}],
 "fit": {"epochs": 6, "batch_size": 16, "validation_split": 0.25, "seed": 1, "verbose": 2}}
JSON
    "$plugfit" train run.json --checkpoint dir:every | tee out.txt || fail "training"
    reload_epoch=$(sed -n 's/^Epoch \([0-9]*\): val_loss did not improve from .*; reloaded dir:.*best\/model$/\1/p' out.txt | head -1)
    [ -n "$reload_epoch" ] || fail "no reload in the log"
    echo "reloaded at epoch $reload_epoch"
    # The manager saved after the reload: its weights are the best checkpoint's, bit for bit.
    same_tensors best/model "every/$(printf 'ckpt-%04d' "$reload_epoch")" weights || fail "weights after the reload are not the best checkpoint's"
    ;;
  seed_custom_objects)
    # Seed (d): a model with custom_layers>MyCustomLayer saved, then loaded and evaluated in a fresh
    # process given no --plugin; without the plugin on the path, the load names type, plugin, version, paths.
    write_run run.json '{"layers": [{"class_name": "custom_layers>MyCustomLayer", "config": {"units": 8}}, {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]}'
    sed -i 's/"epochs": 1/"epochs": 2/' run.json
    "$plugfit" train run.json --checkpoint dir:ckpts || fail "training"
    "$plugfit" evaluate dir:ckpts --data "synthetic:samples=64,features=4,classes=3" | tee eval.txt || fail "evaluate"
    grep -Eq "ckpt-0002 on synthetic:samples=64,features=4,classes=3: loss: [0-9.]+" eval.txt || fail "evaluate output"
    "$plugfit" predict dir:ckpts --input "synthetic:samples=5,features=4,classes=3" --output pred.npy || fail "predict"
    /usr/bin/python3 -c "import numpy as np; p = np.load('pred.npy'); assert p.shape == (5, 3), p.shape; assert abs(p.sum(1) - 1).max() < 1e-5"
    # A copy of plugfit outside the build tree does not search the build's plugins.
    mkdir bin && cp "$plugfit" bin/plugfit
    expect_error 2 'the checkpoint.s model uses custom_layers>MyCustomLayer from plugin custom_layers 0.1.0, which cannot be loaded: plugin "custom_layers" was not found \(looked for custom_layers.so in: ' \
      env LD_LIBRARY_PATH="$(dirname "$plugfit")" PLUGFIT_PLUGIN_PATH="$PWD/empty" bin/plugfit evaluate dir:ckpts --data "synthetic:samples=8,features=4,classes=3"
    ;;
  npy_in_numpy)
    # Tensors written by dir: load in numpy with the exact values.
    write_mlp_run run.json
    "$plugfit" train run.json --epochs 1 --checkpoint dir:ckpts --verbose 0 || fail "training"
    "$plugfit" predict dir:ckpts --input "synthetic:samples=3,features=20,classes=4" --output pred.npy || fail "predict"
    /usr/bin/python3 - <<'PY' || fail "numpy disagrees"
import glob, json, numpy as np, zlib
d = "ckpts/ckpt-0001"
manifest = json.load(open(d + "/manifest.json"))
for f in manifest["files"]:
    data = open(d + "/" + f["path"], "rb").read()
    assert len(data) == f["size"] and zlib.crc32(data) == f["crc32"], f
for t in manifest["tensors"]:
    a = np.load(d + "/" + t["path"])
    assert a.dtype == np.float32 and a.flags["C_CONTIGUOUS"], t
    raw = open(d + "/" + t["path"], "rb").read()
    assert raw.endswith(a.tobytes()), t   # the exact bytes
k = np.load(d + "/tensors/weights/dense/kernel.npy"); b = np.load(d + "/tensors/weights/dense/bias.npy")
k2 = np.load(d + "/tensors/weights/dense_1/kernel.npy"); b2 = np.load(d + "/tensors/weights/dense_1/bias.npy")
print("kernel", k.shape, "first values", k[0, :3])
assert k.shape == (20, 16) and b.shape == (16,)
PY
    ;;
  checkpoint_corruption)
    # A flipped byte or a truncated file is detected by checksum; --resume falls back with a warning.
    write_mlp_run run.json
    "$plugfit" train run.json --epochs 3 --checkpoint dir:ckpts --verbose 0 || fail "training"
    f=ckpts/ckpt-0003/tensors/weights/dense/kernel.npy
    /usr/bin/python3 -c "import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[200] ^= 0x01; open(p, 'wb').write(b)" "$f"
    "$plugfit" inspect dir:ckpts >inspect.txt; code=$?
    cat inspect.txt
    [ $code -eq 2 ] || fail "inspect should exit 2 on a corrupt checkpoint"
    grep -q "ckpt-0003 .*CORRUPT: .*tensors/weights/dense/kernel.npy fails its checksum" inspect.txt || fail "flip not detected"
    "$plugfit" train run.json --epochs 4 --checkpoint dir:ckpts --resume >out.txt 2>err.txt || fail "resume with fallback"
    cat err.txt out.txt
    grep -q "^plugfit: warning: checkpoint \"ckpt-0003\" in dir:$PWD/ckpts is corrupt: .*; falling back to the previous checkpoint" err.txt || fail "no fallback warning"
    grep -q "^Resuming from dir:$PWD/ckpts/ckpt-0002" out.txt || fail "did not fall back to ckpt-0002"
    truncate -s 100 ckpts/ckpt-0004/tensors/weights/dense_1/kernel.npy
    "$plugfit" evaluate dir:ckpts#ckpt-0004 --data "synthetic:samples=8,features=20,classes=4" 2>err.txt; code=$?
    cat err.txt
    [ $code -eq 2 ] || fail "evaluate of a truncated checkpoint should exit 2"
    grep -q "ckpt-0004.*is corrupt: tensors/weights/dense_1/kernel.npy has 100 bytes, the manifest says" err.txt || fail "truncation not detected"
    ;;
  checkpoint_names_confined)
    # Names and templates that would write outside the checkpoint folder are refused.
    write_mlp_run run.json ', "callbacks": [{"class_name": "ModelCheckpoint", "config": {"filepath": "ckpts/../../escape"}}]'
    expect_error 2 "would write outside the checkpoint folder" "$plugfit" train run.json
    write_mlp_run run.json
    "$plugfit" train run.json --epochs 1 --checkpoint dir:ckpts --verbose 0 || fail "training"
    expect_error 2 '"\.\./ckpts/ckpt-0001" is not a checkpoint name' "$plugfit" evaluate "dir:ckpts#../ckpts/ckpt-0001"
    expect_error 2 '"/etc" is not a checkpoint name' "$plugfit" evaluate "dir:ckpts#/etc"
    ;;
  backup_sigkill_exact)
    # SIGKILL at random batches, at least 10 times in a row, resuming each time with
    # BackupAndRestore (a backup every 3 batches): the final weights and optimizer state equal an
    # uninterrupted run's, bit for bit.
    cat >run.json <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 512, "activation": "relu"}},
                      {"class_name": "Dropout", "config": {"rate": 0.3}},
                      {"class_name": "Dense", "config": {"units": 8, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=12000,features=128,classes=8,labels=linear"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "callbacks": [{"class_name": "BackupAndRestore", "config": {"backup_dir": "backup", "save_freq": 3}}],
 "fit": {"epochs": 6, "batch_size": 32, "validation_split": 0.1, "seed": 9, "verbose": 0}}
JSON
    "$plugfit" train run.json --checkpoint dir:straight || fail "uninterrupted run"
    [ ! -e backup/backup ] || fail "the backup was not deleted after a successful run"
    kill_and_restore 10
    same_tensors straight/ckpt-0006 killed/ckpt-0006 || fail "the final weights differ from the uninterrupted run's"
    ;;
  backends_convert_resume)
    # sqlite: -> hdf5: -> dir: keeps every tensor bit for bit; a run resumes from hdf5:.
    write_mlp_run run.json
    "$plugfit" train run.json --epochs 2 --checkpoint sqlite:run.db --verbose 0 || fail "training into sqlite:"
    "$plugfit" convert sqlite:run.db dir:reference || fail "sqlite: -> dir:"
    "$plugfit" convert sqlite:run.db hdf5:run.h5 || fail "sqlite: -> hdf5:"
    "$plugfit" convert hdf5:run.h5 dir:back || fail "hdf5: -> dir:"
    for c in ckpt-0001 ckpt-0002; do same_tensors reference/$c back/$c || fail "$c changed on the way"; done
    cmp -s <(/usr/bin/python3 -c "import json; print(json.load(open('reference/ckpt-0002/info.json')))") \
           <(/usr/bin/python3 -c "import json; print(json.load(open('back/ckpt-0002/info.json')))") || fail "info changed"
    "$plugfit" train run.json --epochs 3 --checkpoint hdf5:run.h5 --resume | tee resume.txt || fail "resume from hdf5:"
    grep -q "^Resuming from hdf5:$PWD/run.h5/ckpt-0002 after epoch 2 (continuing with epoch 3)" resume.txt || fail "did not resume from the hdf5 file"
    "$plugfit" train run.json --epochs 3 --checkpoint dir:straight --verbose 0 || fail "straight run"
    "$plugfit" convert hdf5:run.h5 dir:resumed --only latest || fail "hdf5: latest -> dir:"
    same_tensors straight/ckpt-0003 resumed/ckpt-0003 || fail "the run resumed from hdf5: differs from a straight run"
    ;;
  checkpoint_file_formats)
    # As in Keras, a ModelCheckpoint file name picks the format: .h5 is HDF5, .db is SQLite.
    write_mlp_run run.json ', "callbacks": [{"class_name": "ModelCheckpoint", "config": {"filepath": "out/best_model.h5", "save_best_only": true}}, {"class_name": "ModelCheckpoint", "config": {"filepath": "out/w.{epoch:02d}.db", "monitor": "loss"}}]'
    mkdir out
    "$plugfit" train run.json --epochs 2 || fail "training"
    ls out
    [ -f out/best_model.h5 ] && [ -f out/w.01.db ] && [ -f out/w.02.db ] || fail "files missing"
    "$plugfit" inspect hdf5:out/best_model.h5 | tee inspect.txt
    grep -q "^  best_model " inspect.txt || fail "the .h5 file does not hold checkpoint best_model"
    "$plugfit" evaluate hdf5:out/best_model.h5 --data "synthetic:samples=64,features=20,classes=4,labels=linear" || fail "evaluate .h5"
    "$plugfit" evaluate sqlite:out/w.02.db --data "synthetic:samples=64,features=20,classes=4,labels=linear" || fail "evaluate .db"
    ;;
  logs_resume_sigkill)
    # CSVLogger and JsonLinesLogger beside BackupAndRestore (CSVLogger listed before it, so the
    # restore comes after its on_train_begin), through a SIGKILL mid-epoch after two finished
    # epochs: the resumed run keeps those rows and adds the rest, every epoch exactly once, and
    # both files hold the same rows. The rows of epochs trained whole equal an uninterrupted run's.
    write_logged_run() {  # write_logged_run FILE PREFIX
      cat >"$1" <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 256, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 8, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=12000,features=128,classes=8,labels=linear"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "callbacks": [{"class_name": "CSVLogger", "config": {"filename": "$2.csv"}},
               {"class_name": "BackupAndRestore", "config": {"backup_dir": "$2-backup", "save_freq": 3}},
               {"class_name": "JsonLinesLogger", "config": {"filename": "$2.jsonl"}}],
 "fit": {"epochs": 4, "batch_size": 32, "validation_split": 0.1, "seed": 5, "verbose": 0}}
JSON
    }
    write_logged_run straight.json straight
    write_logged_run killed.json killed
    "$plugfit" train straight.json || fail "uninterrupted run"
    "$plugfit" train killed.json --verbose 1 >first.txt 2>&1 &
    pid=$!
    # Poll for the progress marker: two epoch rows in the CSV, then a backup newer than the
    # second (taken in epoch 3, as BackupAndRestore follows CSVLogger).
    for i in $(seq 1 3000); do
      [ "$(cat killed.csv 2>/dev/null | grep -c '^[0-9]')" -ge 2 ] && [ killed-backup/backup -nt killed.csv ] && break
      kill -0 $pid 2>/dev/null || break
      sleep 0.01
    done
    kill -9 $pid 2>/dev/null || fail "the run ended before the kill: make the epochs longer"
    wait $pid 2>/dev/null
    [ "$(grep -c '^[0-9]' killed.csv)" -eq 2 ] || fail "killed after $(grep -c '^[0-9]' killed.csv) rows, wanted 2"
    [ -e killed-backup/backup ] || fail "no backup to resume from"
    "$plugfit" train killed.json --verbose 1 >resumed.txt 2>&1 || { cat resumed.txt; fail "the resumed run failed"; }
    grep -a "^Restored the backup" resumed.txt
    grep -aq "resuming at epoch 3, batch [1-9]" resumed.txt || fail "the resume was not mid-epoch 3"
    /usr/bin/python3 - <<'PY' || fail "the log files after the resume"
import csv, json
def csv_rows(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: float(v) for k, v in r.items()} for r in rows]
def jsonl_rows(path):
    return [json.loads(line) for line in open(path) if line.strip()]
killed_csv, killed_jsonl = csv_rows("killed.csv"), jsonl_rows("killed.jsonl")
assert [int(r["epoch"]) for r in killed_csv] == [0, 1, 2, 3], killed_csv
assert [r["epoch"] for r in killed_jsonl] == [0, 1, 2, 3], killed_jsonl
for c, j in zip(killed_csv, killed_jsonl):
    assert c == {k: float(v) for k, v in j.items()}, (c, j)
straight = csv_rows("straight.csv")
# Epoch 2 was cut by the kill: its training means cover the batches after the resume only.
for e in (0, 1, 3):
    assert killed_csv[e] == straight[e], (e, killed_csv[e], straight[e])
assert killed_csv[2]["val_loss"] == straight[2]["val_loss"], "the resumed epoch ended with other weights"
print("epochs", [int(r["epoch"]) for r in killed_csv], "once each in both files; rows 0, 1, 3 as uninterrupted")
PY
    ;;
  plugin_layer_without_name)
    # nameless>PReLU's get_config() has no "name": the host keeps layer names (here "act", not
    # the auto name), so its checkpoints evaluate and predict (issue 10: no weight "p_re_lu/alpha").
    write_run run.json '{"layers": [{"class_name": "Dense", "config": {"units": 8}}, {"class_name": "nameless>PReLU", "config": {"name": "act"}},
      {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]}'
    "$plugfit" train run.json --plugin-path "$test_plugins" --checkpoint dir:ckpts --epochs 2 || fail "train"
    "$plugfit" train run.json --plugin-path "$test_plugins" --checkpoint dir:ckpts --epochs 3 --resume || fail "resume"
    "$plugfit" evaluate dir:ckpts --plugin-path "$test_plugins" --data synthetic:samples=64,features=4,classes=3 \
      >eval.txt || fail "evaluate: $(cat eval.txt)"
    grep -q "accuracy" eval.txt || fail "evaluate printed no accuracy: $(cat eval.txt)"
    "$plugfit" predict dir:ckpts --plugin-path "$test_plugins" --input synthetic:samples=10,features=4,classes=3 \
      --output p.npy || fail "predict"
    py -c "import numpy; a = numpy.load('p.npy'); assert a.shape == (10, 3), a.shape" || fail "predictions"
    grep -q '"name": *"act"' ckpts/ckpt-0003/* 2>/dev/null || grep -rq '"act"' ckpts || fail "the layer name was not saved"
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
echo "ok: $case_name"
