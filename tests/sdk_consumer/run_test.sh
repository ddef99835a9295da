#!/usr/bin/env bash
# The out-of-tree path, end to end: install plugfit with --destdir, find the SDK through
# pkg-config only, build this project's plugin and the SDK template against it, and have the
# installed plugfit load the plugin by name and train with its layer and callback.
# Usage: run_test.sh BUILD_DIR SOURCE_ROOT
set -euo pipefail
build=$1
root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

stage=$work/stage
meson install -C "$build" --destdir "$stage" --no-rebuild --quiet >/dev/null
pc=$(find "$stage" -name plugfit.pc | head -1)
[ -n "$pc" ] || { echo "FAIL: no plugfit.pc installed"; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$pc")
# Relocate the .pc to the staged tree, as a packager would; nothing else points at the build.
mkdir -p "$work/pkgconfig"
sed "s|^prefix=.*|prefix=$stage$prefix|" "$pc" >"$work/pkgconfig/plugfit.pc"
export PKG_CONFIG_PATH=$work/pkgconfig
plugindir=$(pkg-config --variable=plugindir plugfit)
libdir=$(pkg-config --variable=libdir plugfit)
echo "SDK: $(pkg-config --modversion plugfit), plugindir $plugindir"

for project in "$root/tests/sdk_consumer" "$root/sdk/template"; do
  name=$(basename "$project")
  meson setup "$work/build-$name" "$project" >/dev/null
  ninja -C "$work/build-$name" >/dev/null
  meson install -C "$work/build-$name" --quiet >/dev/null
done
ls "$plugindir"

plugfit=$stage$prefix/bin/plugfit
export LD_LIBRARY_PATH=$libdir
export PLUGFIT_PLUGIN_PATH=$plugindir
cd "$work"
"$plugfit" plugins | tee plugins.txt
grep -q "^acme 1.2.0 (SDK ABI" plugins.txt || { echo "FAIL: acme not listed"; exit 1; }
grep -q "callback acme>EpochLogger" plugins.txt || { echo "FAIL: EpochLogger not listed"; exit 1; }

cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "acme>Scale", "config": {"factor": 0.5}},
                      {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
 "plugins": ["acme"],
 "data": {"train": "synthetic:samples=64,features=4,classes=3"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
 "callbacks": [{"class_name": "acme>EpochLogger", "config": {"path": "epochs.log"}},
               {"class_name": "my_plugin>PrintEpoch"}],
 "fit": {"epochs": 3, "batch_size": 16, "seed": 1, "verbose": 0}}
JSON
"$plugfit" train run.json | tee out.txt
[ "$(wc -l <epochs.log)" -eq 3 ] || { echo "FAIL: EpochLogger wrote $(wc -l <epochs.log) lines"; exit 1; }
grep -q "^epoch 3 loss " epochs.log || { echo "FAIL: epochs.log"; exit 1; }
grep -q "my_plugin: epoch 3 ended" out.txt || { echo "FAIL: the template's callback did not run"; exit 1; }
echo "ok: out-of-tree plugins built with pkg-config and loaded by name by the installed plugfit"
