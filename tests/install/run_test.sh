#!/usr/bin/env bash
# The README's "Installing" section, run as written (only PREFIX changed, to a temporary folder)
# in a copy of the source: the installed plugfit runs without LD_LIBRARY_PATH, lists its own
# plugins, sdk/template builds against the prefix through pkg-config and its plugin loads by
# name in a training run; then examples/, if the source has it, builds out of tree against the
# prefix and trains Fashion-MNIST to its "test accuracy:" line.
# Usage: run_test.sh SOURCE_ROOT
set -euo pipefail
root=$(realpath "$1")
source "$root/tests/install/installed_prefix.sh"
unset LD_LIBRARY_PATH PKG_CONFIG_PATH PLUGFIT_PLUGIN_PATH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

# A copy of the source without build folders: the block writes build-install/ and build-my-plugin/.
src=$work/src
mkdir "$src"
tar -C "$root" --exclude='./build*' --exclude=./builddir --exclude=./.git -cf - . | tar -C "$src" -xf -

block=$(awk '/<!-- install:end -->/ {on = 0} on && !/^```/ {print} /<!-- install:begin -->/ {on = 1}' "$root/README.md")
[ -n "$block" ] || fail "README.md has no <!-- install:begin --> ... <!-- install:end --> block"
[ "$(printf '%s\n' "$block" | grep -c '^PREFIX=')" -eq 1 ] || fail "the README's install block must set PREFIX= exactly once"
printf '%s\n' "$block" | sed "s|^PREFIX=.*|PREFIX='$prefix'|" >"$work/install.sh"
start=$(date +%s)
(cd "$src" && bash -euo pipefail "$work/install.sh") >"$work/install.log" 2>&1 ||
  { tail -40 "$work/install.log"; fail "the README's install block failed (above)"; }
echo "ok: the README's install block ran into $prefix ($(( $(date +%s) - start )) s)"
grep -q "^my_plugin 0.1.0 (SDK ABI" "$work/install.log" || { cat "$work/install.log"; fail "the block's plugfit plugins did not list my_plugin"; }

check_runs_from_prefix "$prefix"
first_party=$(find "$src/plugins" -mindepth 2 -maxdepth 2 -name meson.build -printf '%h\n' | xargs -n1 basename | sort)
# shellcheck disable=SC2086  # one word per plugin name
check_plugins_listed "$prefix" $first_party my_plugin

# The template's plugin, loaded by name by a training run of the installed plugfit.
cd "$work"
cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=64,features=4,classes=3"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
 "callbacks": [{"class_name": "my_plugin>PrintEpoch"}],
 "fit": {"epochs": 2, "batch_size": 16, "seed": 1, "verbose": 0}}
JSON
"$prefix/bin/plugfit" train run.json | tee train.txt
grep -q "^my_plugin: epoch 2 ended" train.txt || fail "the template's PrintEpoch did not run in plugfit train"
echo "ok: sdk/template built against the prefix with pkg-config; plugfit train loaded my_plugin by name"

# Moved elsewhere, the install still runs and finds its own plugins (beside its libplugfit.so).
moved=$work/moved
cp -a "$prefix" "$moved"
mv "$prefix" "$work/away"
check_runs_from_prefix "$moved"
# shellcheck disable=SC2086
check_plugins_listed "$moved" $first_party
mv "$work/away" "$prefix"

if [ ! -f "$src/examples/meson.build" ]; then
  echo "note: no examples/ in this source; the out-of-tree example is not built"
  exit 0
fi
export PKG_CONFIG_PATH=$prefix/lib/x86_64-linux-gnu/pkgconfig
[ -f "$PKG_CONFIG_PATH/plugfit.pc" ] || PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name plugfit.pc | head -1)")
meson setup "$work/build-examples" "$src/examples" >"$work/examples.log" 2>&1 &&
  ninja -C "$work/build-examples" >>"$work/examples.log" 2>&1 || { tail -40 "$work/examples.log"; fail "examples/ did not build against the prefix"; }
mapfile -t programs < <(find "$work/build-examples" -maxdepth 1 -type f -executable | sort)
[ "${#programs[@]}" -ge 1 ] || fail "examples/ built no program"
for program in "${programs[@]}"; do
  status=0
  "$program" >example.txt 2>&1 || status=$?
  tail -5 example.txt
  [ "$status" -eq 0 ] || fail "$(basename "$program") exited $status"
  accuracy=$(tail -1 example.txt | sed -n 's/^test accuracy: \([0-9.]*\)$/\1/p')
  [ -n "$accuracy" ] || fail "$(basename "$program")'s last line is not \"test accuracy: X\""
  awk -v a="$accuracy" 'BEGIN {exit !(a >= 0.85)}' || fail "$(basename "$program"): test accuracy $accuracy < 0.85"
  echo "ok: examples/$(basename "$program") built against the prefix, test accuracy $accuracy"
done
