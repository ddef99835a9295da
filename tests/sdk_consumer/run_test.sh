#!/usr/bin/env bash
# The out-of-tree path, end to end: install plugfit with --destdir (a staged, relocated tree:
# no LD_LIBRARY_PATH, no PLUGFIT_PLUGIN_PATH), find the SDK through the staged plugfit.pc only,
# build this project's plugin and the SDK template against it, and have the installed plugfit
# load the plugin by name and train with its layer and callback. Then acme's toy checkpoint
# backend: the SDK's conformance suite on it (acme_conformance), and the installed plugfit
# converting a run's checkpoints into toy: and inspecting them.
# Usage: run_test.sh BUILD_DIR SOURCE_ROOT
set -euo pipefail
build=$1
root=$2
source "$root/tests/install/installed_prefix.sh"
unset LD_LIBRARY_PATH PLUGFIT_PLUGIN_PATH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

stage=$work/stage
meson install -C "$build" --destdir "$stage" --no-rebuild --quiet >/dev/null
pc=$(find "$stage" -name plugfit.pc | head -1)
[ -n "$pc" ] || fail "no plugfit.pc installed"
# plugfit.pc names its prefix from its own folder: the staged tree, as is.
export PKG_CONFIG_PATH=$(dirname "$pc")
prefix=$(realpath "$(pkg-config --variable=prefix plugfit)")
plugindir=$(plugindir_of "$prefix")
case "$plugindir" in "$stage"/*) ;; *) fail "the staged plugfit.pc names plugindir $plugindir, outside $stage" ;; esac
echo "SDK: $(pkg-config --modversion plugfit), plugindir $plugindir"
check_runs_from_prefix "$prefix"

for project in "$root/tests/sdk_consumer" "$root/sdk/template"; do
  name=$(basename "$project")
  meson setup "$work/build-$name" "$project" >/dev/null
  ninja -C "$work/build-$name" >/dev/null
  meson install -C "$work/build-$name" --quiet >/dev/null
done
ls "$plugindir"
check_plugins_listed "$prefix" acme toy_backend my_plugin custom_layers

plugfit=$prefix/bin/plugfit
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

start=$(date +%s)
"$work/build-sdk_consumer/acme_conformance" || { echo "FAIL: the toy backend fails the conformance suite"; exit 1; }
echo "ok: acme's toy backend passes the SDK's conformance suite ($(( $(date +%s) - start )) s)"

# toy: URIs load the plugin toy_backend by name (the host's convention for <scheme>_backend), or
# come from a plugin named with --plugin (acme provides "toy" too).
"$plugfit" train run.json --checkpoint dir:ckpts --verbose 0 >/dev/null
"$plugfit" convert dir:ckpts toy:toy_ckpts | tee convert.txt
grep -q "^converted 3 checkpoint(s) from dir:$PWD/ckpts to toy:$PWD/toy_ckpts" convert.txt ||
  { echo "FAIL: convert dir: -> toy:"; exit 1; }
[ -f toy_ckpts/ckpt-0003.ckpt ] || { echo "FAIL: no toy checkpoint file"; exit 1; }
"$plugfit" inspect toy:toy_ckpts --plugin acme | tee inspect.txt
grep -q "^toy:$PWD/toy_ckpts: 3 checkpoint(s), latest ckpt-0003" inspect.txt || { echo "FAIL: inspect toy:"; exit 1; }
[ "$(grep -c "^  ckpt-000[123] *full" inspect.txt)" -eq 3 ] || { echo "FAIL: inspect toy: lists"; exit 1; }
# Back to dir:, bit for bit.
"$plugfit" convert toy:toy_ckpts dir:back >/dev/null || { echo "FAIL: convert toy: -> dir:"; exit 1; }
compared=0
while IFS= read -r f; do
  cmp -s "$f" "back/${f#ckpts/}" || { echo "FAIL: $f changed on its way through toy:"; exit 1; }
  compared=$((compared + 1))
done < <(find ckpts -name '*.npy')
[ "$compared" -gt 0 ] || { echo "FAIL: no tensors compared"; exit 1; }
# A run that loads acme gets the backend from acme itself.
"$plugfit" train run.json --epochs 1 --checkpoint toy:direct --verbose 0 >/dev/null || { echo "FAIL: train into toy:"; exit 1; }
[ -f direct/ckpt-0001.ckpt ] || { echo "FAIL: training wrote no toy checkpoint"; exit 1; }
echo "ok: the installed plugfit converts to, inspects and trains into acme's toy: backend"
