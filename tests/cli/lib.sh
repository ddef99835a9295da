# Shared by the end-to-end test scripts: sourced with the script's arguments PLUGFIT SOURCE_ROOT
# CASE [TEST_PLUGINS]. Each case runs in a fresh folder, removed afterwards.
set -uo pipefail
plugfit=$1
root=$2
case_name=$3
test_plugins=${4:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

fail() { echo "FAIL: $*"; exit 1; }
# Debian's python3 (numpy, h5py): the python3 first on PATH may be another one.
py() { /usr/bin/python3 "$@"; }

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

# skip REASON: meson's skip (exit 77), the reason printed for scripts/test's summary.
skip() { echo "skipped: $*"; exit 77; }

# The real Keras files CI lays out in ../shared beside the clone; a plain clone has none.
keras_files=$root/../shared/keras_files
need_keras_files() {
  [ -d "$keras_files" ] ||
    skip "../shared/keras_files is not beside this clone (CI lays it out; see README)"
}

# The real TensorFlow checkpoints and SavedModels (../shared/tf_files/README.md), as CI lays them out.
tf_files=$root/../shared/tf_files
need_tf_files() {
  [ -d "$tf_files" ] ||
    skip "../shared/tf_files is not beside this clone (CI lays it out; see README)"
}

# wait_until PID COMMAND...: polls COMMAND until it succeeds, while PID runs (progress markers,
# not sleeps, decide when a test acts, so a loaded machine only makes it slower). Fails when
# PID ends first or after 10 minutes.
wait_until() {
  local pid=$1 polls=0
  shift
  until "$@"; do
    kill -0 "$pid" 2>/dev/null || return 1
    polls=$((polls + 1))
    [ $polls -lt 60000 ] || fail "gave up waiting for: $*"
    sleep 0.01
  done
}

# saved_since PATH STAMP: a checkpoint manifest at or under PATH was written after STAMP was
# touched (a dir: save writes manifest.json last, then renames the folder into place).
saved_since() { [ -n "$(find "$1" -name manifest.json -newer "$2" -print -quit 2>/dev/null)" ]; }

# same_tensors A B [PREFIX]: the .npy files (weights and optimizer state; those under PREFIX only)
# of two dir: checkpoints are byte-identical.
same_tensors() {
  local a=$1 b=$2 prefix=${3:-}
  local files
  files=$(cd "$a/tensors" && find "./$prefix" -name '*.npy' | sort)
  [ -n "$files" ] || { echo "no tensors in $a"; return 1; }
  for f in $files; do
    cmp -s "$a/tensors/$f" "$b/tensors/$f" || { echo "differs: $f"; return 1; }
  done
  echo "identical: $(echo "$files" | wc -l) tensors of $a and $b"
}

# same_bytes A.npy B.npy: the two arrays are bit for bit the same (dtype, shape and bytes).
same_bytes() {
  py -c 'import sys, numpy as np; a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); sys.exit(0 if a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes() else 1)' "$1" "$2"
}

# keras_parts_only: k.h5, k.weights.h5 and k.keras, copies of m.h5, m.weights.h5 and m.keras
# without plugfit's /plugfit group: what Keras itself reads.
keras_parts_only() {
  py - <<'PY' || fail "removing /plugfit from the Keras files"
import io, shutil, zipfile, h5py
for src, dst in [("m.h5", "k.h5"), ("m.weights.h5", "k.weights.h5")]:
    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        del f["plugfit"]
archive = zipfile.ZipFile("m.keras")
with zipfile.ZipFile("k.keras", "w") as out:
    for member in archive.infolist():
        data = archive.read(member.filename)
        if member.filename == "model.weights.h5":
            buffer = io.BytesIO(data)
            with h5py.File(buffer, "a") as f:
                del f["plugfit"]
            data = buffer.getvalue()
        out.writestr(member, data)
PY
}

# kill_and_restore KILLS: trains run.json into dir:killed, SIGKILLs it at a random batch soon
# after each new BackupAndRestore backup (a progress marker, not a sleep: under load a run may
# take seconds to reach its first save), KILLS times, then lets a last run finish; checks that
# every kill was restored and that a restore landed mid-epoch. The runs' output is in log.txt.
kill_and_restore() {
  local wanted=$1 kills=0 pid
  for _ in $(seq 1 60); do
    touch stamp
    "$plugfit" train run.json --checkpoint dir:killed --verbose 1 >>log.txt 2>&1 &
    pid=$!
    wait_until $pid saved_since backup/backup stamp || { wait $pid || fail "a resumed run failed"; fail "training finished after only $kills kills; make the run longer"; }
    sleep "0.0$(( RANDOM % 10 ))"
    if kill -9 $pid 2>/dev/null; then
      wait $pid 2>/dev/null
      kills=$((kills + 1))
      [ $kills -ge "$wanted" ] && break
    else
      wait $pid || fail "a resumed run failed"
      fail "training finished after only $kills kills; make the run longer"
    fi
  done
  [ $kills -ge "$wanted" ] || fail "only $kills kills"
  "$plugfit" train run.json --checkpoint dir:killed --verbose 1 >>log.txt 2>&1 || fail "the final resumed run failed"
  grep "^Restored the backup" log.txt | tail -3
  echo "killed $kills times; restored $(grep -c '^Restored the backup' log.txt) times"
  [ "$(grep -c '^Restored the backup' log.txt)" -ge "$wanted" ] || fail "too few restores"
  grep -q "resuming at epoch [0-9]*, batch [1-9]" log.txt || fail "never resumed mid-epoch"
}

# one_epoch_after_load FROM...: for each FROM, one epoch of run.json after "load_weights": FROM,
# into dir:loaded_<FROM's scheme or file name>.
one_epoch_after_load() {
  local from
  for from in "$@"; do
    py - "$from" <<'PY' || fail "writing the load_weights run file"
import json, sys
r = json.load(open("run.json"))
r["load_weights"], r["fit"]["epochs"] = sys.argv[1], 1
json.dump(r, open("load.json", "w"))
PY
    "$plugfit" train load.json --checkpoint "dir:loaded_${from%%:*}" >/dev/null || fail "one epoch after load_weights $from"
  done
}

# opened_only LOG INPUT_RE: every path strace's LOG (-e trace=open,openat) shows opened or looked
# for is a system library, plugfit's own build tree (its library and plugins), /proc/self/statm
# (the HDF5 reader's child process reads its own size: isolated_read.cpp), or matches INPUT_RE
# (the inputs of the command, relative or absolute). An openat relative to a folder's
# descriptor (not AT_FDCWD) stays inside that folder unless its path has a ".." component.
opened_only() {
  local build climbing others
  build=$(cd "$(dirname "$plugfit")/.." && pwd | sed 's/[.[\*^$]/\\&/g')
  climbing=$(sed -n 's/.*openat([0-9][0-9]*, "\([^/"][^"]*\)".*/\1/p' "$1" | grep -E '(^|/)\.\.(/|$)' || true)
  others=$(grep -Ev 'openat\([0-9]+, "[^/"]' "$1" | sed -n 's/.*open[a-z]*([^"]*"\([^"]*\)".*/\1/p' | sort -u |
           grep -Ev "^(/etc/ld\.so\.cache|/lib/|/lib64/|/usr/lib/|/sys/devices/system/cpu/|/proc/self/statm$|$build/)" |
           grep -Ev -- "$2" || true)
  [ -z "$climbing$others" ] || fail "opened outside its inputs and plugfit's own files: $(echo $climbing $others)"
  echo "every open was of the inputs, plugfit's build tree or a system library"
}

# write_full_disk_run: run.json for the full-disk cases, one epoch whose checkpoint is ~0.6 MB.
write_full_disk_run() {
  cat >run.json <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 256, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 4, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=64,features=200,classes=4"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
 "fit": {"epochs": 1, "batch_size": 32, "seed": 1, "verbose": 0}}
JSON
}

# with_file_limit KIB COMMAND...: COMMAND unable to grow a file past KIB KiB (as a full disk
# would stop it), with SIGXFSZ ignored so that the write fails with EFBIG instead.
with_file_limit() { bash -c 'trap "" XFSZ; ulimit -f "$1"; shift; exec "$@"' limit "$@"; }
