#!/usr/bin/env bash
# Crashes and full disks mid-save (issue 15, done-means 4), for each checkpoint backend:
#   sigkill_saves_dir, sigkill_saves_sqlite, sigkill_saves_hdf5: 50 SIGKILLs at random moments
#     while a run saves every batch; after each kill every checkpoint listed is either reported
#     corrupt or loads and equals, bit for bit, what an uninterrupted run saved under that name.
#   sqlite_full_disk: a file-size limit hit mid-save fails that save in one sentence, and the
#     previous checkpoint still loads whole.
# Usage: crash_cases.sh PLUGFIT SOURCE_ROOT CASE
source "$(dirname "$0")/lib.sh"

# write_saving_run FILE PREFIX EPOCHS [SAME]: a deterministic run (fixed seed, no dropout; 8
# batches an epoch) saving a full checkpoint PREFIX/slot-EEE-BB after every batch (0.75 MB each:
# weights and Adam's two moments, so a save takes a few ms and a kill often lands inside one).
# With SAME, also PREFIX/same every 2 batches: one name replaced over and over.
write_saving_run() {
  local same=''
  [ -n "${4:-}" ] &&
    same=', {"class_name": "ModelCheckpoint", "config": {"filepath": "'$2'/same", "save_freq": 2, "monitor": "loss", "verbose": 1}}'
  cat >"$1" <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 192, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 192, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 4, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=512,features=128,classes=4"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
 "callbacks": [{"class_name": "ModelCheckpoint", "config": {"filepath": "$2/slot-{epoch:03d}-{batch:02d}", "save_freq": 1, "monitor": "loss", "verbose": 1}}$same],
 "fit": {"epochs": $3, "batch_size": 64, "seed": 1, "verbose": 0}}
JSON
}

# compare.py INSPECT.json CONVERTED REFERENCE COUNTS: every checkpoint INSPECT.json lists is
# reported corrupt, or its copy in the dir: folder CONVERTED (plugfit convert: plugfit's own load)
# equals the reference's checkpoint of the same training step bit for bit: every tensor (weights,
# optimizer state) and the info (model, training state, generator state, metrics; not the save
# time, nor the callbacks' state, keyed by their filepaths). Adds "compared corrupt equal" to COUNTS.
cat >compare.py <<'PY'
import json, os, sys
import numpy as np
inspect_file, converted, reference, counts = sys.argv[1:]
listed = {c["name"]: c for c in json.load(open(inspect_file))["checkpoints"]}
if "same" not in listed:
    sys.exit("the checkpoint 'same', saved in every round, is gone: " + ", ".join(listed))

def tensors(folder):
    root = os.path.join(folder, "tensors")
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs if f.endswith(".npy"))

def info(folder):
    i = json.load(open(os.path.join(folder, "info.json")))
    i.pop("time", None)
    i.pop("callbacks", None)
    return i

by_step = {}
for name in os.listdir(reference):
    if name.startswith("slot-"):
        by_step[info(os.path.join(reference, name))["training"]["global_step"]] = name

compared = corrupt = equal = 0
for name, c in listed.items():
    compared += 1
    if c["status"] != "ok":
        corrupt += 1
        print(f"  {name}: detected as corrupt ({c['status']})")
        continue
    got = os.path.join(converted, name)
    step = info(got)["training"]["global_step"]
    if name == "same":
        # "same" is saved after slot-<step> of the same batch, every 2 batches: whole, it is the
        # state of one even step (never one step's weights with another's moments), and that
        # step's slot was saved before it.
        if step % 2 != 0 or step not in by_step:
            sys.exit(f"'same' holds step {step}: not an even step of the reference")
        want = by_step[step]
        if want not in listed:
            sys.exit(f"'same' holds step {step}, but {want}, saved before it, is not listed")
    else:
        want = name
        if not os.path.isdir(os.path.join(reference, want)):
            sys.exit(f"{name} is past the reference run's last step: make the reference longer")
    ref = os.path.join(reference, want)
    if tensors(got) != tensors(ref):
        sys.exit(f"{name} holds the tensors {tensors(got)}, the reference's {want} {tensors(ref)}")
    for t in tensors(ref):
        a, b = np.load(os.path.join(got, "tensors", t)), np.load(os.path.join(ref, "tensors", t))
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            sys.exit(f"{name} loads, but its {t} differs from the reference's {want}")
    if info(got) != info(ref):
        sys.exit(f"{name} loads, but its info differs from the reference's {want}")
    equal += 1
total = [int(v) for v in open(counts).read().split()] if os.path.exists(counts) else [0, 0, 0]
with open(counts, "w") as out:
    print(total[0] + compared, total[1] + corrupt, total[2] + equal, file=out)
PY

# check_location LOCATION ROUND: inspect LOCATION, copy each checkpoint it reports whole into a
# fresh dir: folder with plugfit convert, and compare every one with the reference (compare.py).
check_location() {
  local location=$1 round=$2 code name
  "$plugfit" inspect "$location" --json >inspect.json 2>inspect_err.txt
  code=$?
  # 1: some checkpoint is corrupt (listed with its status); anything else: the location is unusable.
  [ $code -le 1 ] || fail "round $round: inspect $location exited $code: $(cat inspect_err.txt)"
  rm -rf converted
  if [ $code -eq 0 ]; then
    "$plugfit" convert "$location" dir:converted >/dev/null 2>convert_err.txt ||
      fail "round $round: convert of whole checkpoints failed: $(cat convert_err.txt)"
  else
    # convert stops at the first corrupt checkpoint: copy the whole ones one by one.
    for name in $(py -c 'import json; print(" ".join(c["name"] for c in json.load(open("inspect.json"))["checkpoints"] if c["status"] == "ok"))'); do
      "$plugfit" convert "$location" dir:converted --only "$name" >/dev/null 2>convert_err.txt ||
        fail "round $round: $name is reported whole but does not convert: $(cat convert_err.txt)"
    done
  fi
  py compare.py inspect.json converted reference counts.txt || fail "round $round: a checkpoint loads but differs (above)"
}

# same_was_saved: this round's log (ModelCheckpoint's verbose lines, each printed and flushed
# before its save) has a line after the first "saving ... /same": that save is complete.
same_was_saved() { [ "$(grep -m1 -A1 'saving model to .*/same$' round.txt | wc -l)" -ge 2 ]; }

# wal_half_written.py WAL: the SQLite write-ahead log ends in frames of a transaction that never
# committed (frames of the log's current salt after its last commit frame, or a torn frame).
cat >wal_half_written.py <<'PY'
import os, struct, sys
data = open(sys.argv[1], "rb").read() if os.path.exists(sys.argv[1]) else b""
if len(data) < 32:
    sys.exit(1)
page_size = struct.unpack(">I", data[8:12])[0]
salts = data[16:24]
frame, offset, uncommitted = 24 + page_size, 32, 0
while offset + 24 <= len(data) and data[offset + 8:offset + 16] == salts:
    if offset + frame > len(data):
        sys.exit(0)  # torn mid-frame
    committed = struct.unpack(">I", data[offset + 4:offset + 8])[0] != 0
    uncommitted = 0 if committed else uncommitted + 1
    offset += frame
sys.exit(0 if uncommitted else 1)
PY

# half_saved SCHEME PID: the killed run PID left a save half done (a lower bound on the kills
# that landed mid-save: a kill before a save's first write leaves nothing to see).
half_saved() {
  case $1 in
    dir) ls -a ckpts | grep -q -- "^\.tmp-.*-$2-" ;;  # .tmp-NAME-PID-N.plugfit
    hdf5) ls -a . m.h5.checkpoints 2>/dev/null | grep -q -- "tmp-$2-" ;;  # m.h5.tmp-PID-N, .tmp-PID-N.h5
    sqlite) py wal_half_written.py m.db-wal ;;
  esac
}

# sigkill_saves PREFIX LOCATION: the reference, 50 killed rounds into LOCATION, each checked;
# then an uninterrupted run must still save into LOCATION, and everything is checked again.
sigkill_saves() {
  local prefix=$1 location=$2 kills=0 half=0 pid
  # Each killed run starts from scratch with the same seed, so its slot-EEE-BB equals the
  # reference's: 6 epochs (48 steps), far more than a run gets through before its kill.
  write_saving_run reference.json reference 6
  "$plugfit" train reference.json >/dev/null || fail "the reference run"
  [ -d reference/slot-006-08 ] || fail "the reference run did not save every batch"
  write_saving_run run.json "$prefix" 1000 same
  for round in $(seq 1 50); do
    "$plugfit" train run.json >round.txt 2>&1 &
    pid=$!
    # A progress marker, not a sleep: a loaded machine only makes the round slower.
    wait_until $pid same_was_saved || { wait $pid; fail "round $round: the run ended before saving: $(tail -3 round.txt)"; }
    sleep "0.0$(( RANDOM % 10 ))"
    kill -9 $pid 2>/dev/null && kills=$((kills + 1))
    wait $pid 2>/dev/null
    half_saved "${location%%:*}" $pid && half=$((half + 1))
    check_location "$location" "$round"
  done
  [ $kills -eq 50 ] || fail "only $kills of 50 runs were killed"
  # The location stays usable: an uninterrupted run saves into it over what the kills left.
  write_saving_run after.json "$prefix" 1 same
  "$plugfit" train after.json >after.txt 2>&1 || fail "a run after the kills cannot save into $location: $(tail -3 after.txt)"
  check_location "$location" after
  read -r compared corrupt equal <counts.txt
  echo "$location: $kills kills ($half of them left a save half done), $compared checkpoints compared over 51 checks, $corrupt detected as corrupt," \
       "$equal equal to the reference bit for bit, 0 loaded and differed; ${SECONDS}s"
  [ "$compared" -eq $((corrupt + equal)) ] || fail "counts do not add up"
}

case "$case_name" in
  sigkill_saves_dir)
    # A dir: save renames a whole folder into place (exchanging with an existing one): after a kill
    # at any instant every name holds the old or the new checkpoint, whole; inspect verifies every
    # checksum (this was cli_cases.sh's checkpoint_sigkill, which asserted just that).
    sigkill_saves ckpts dir:ckpts
    [ "$corrupt" -eq 0 ] || fail "$corrupt dir: checkpoints were left corrupt"
    ls -a ckpts | grep -c "^\.tmp-" | xargs echo "stray temporary folders (ignored, cleaned by later saves):"
    ;;
  sigkill_saves_sqlite)
    # Every checkpoint in one database, a save one transaction (sqlite:m.db/slot-...).
    sigkill_saves sqlite:m.db sqlite:m.db
    ;;
  sigkill_saves_hdf5)
    # The hdf5: location of many checkpoints: m.h5 holds the latest, m.h5.checkpoints/ the others,
    # and every save moves the previous latest aside: where a torn save could damage others.
    sigkill_saves hdf5:m.h5 hdf5:m.h5
    ;;
  sqlite_full_disk)
    # A file-size limit hit mid-save (as a full disk would; hdf5_cases.sh's hdf5_full_disk for
    # hdf5:, test_dir_backend's for dir:): the save fails in one sentence saying why, the previous
    # checkpoint still loads whole, no journal or temporary file is left, and a later save works.
    write_full_disk_run
    "$plugfit" train run.json --checkpoint sqlite:run.db || fail "first run"
    "$plugfit" convert sqlite:run.db dir:before >/dev/null || fail "copying the first checkpoint"
    size=$(stat -c %s run.db)
    # ulimit -f counts KiB: room for half a checkpoint in the write-ahead log (as large as the
    # database's one record). SQLite's own text for a failed COMMIT is "disk I/O error": the
    # plugin adds the system's reason.
    expect_error 1 "saving checkpoint \"ckpt-0002\" to sqlite:$PWD/run.db failed: .*File too large" \
      with_file_limit $(( size / 2 / 1024 )) \
      "$plugfit" train run.json --epochs 2 --checkpoint sqlite:run.db --resume
    [ "$(ls -A | grep '^run\.db' | tr '\n' ' ')" = "run.db " ] || fail "files left beside run.db: $(ls -A)"
    "$plugfit" inspect sqlite:run.db | tee inspect.txt || fail "the previous checkpoint does not load"
    grep -q "1 checkpoint(s), latest ckpt-0001" inspect.txt || fail "inspect"
    "$plugfit" convert sqlite:run.db dir:after >/dev/null || fail "copying the first checkpoint again"
    same_tensors before/ckpt-0001 after/ckpt-0001 || fail "the previous checkpoint changed"
    cmp -s before/ckpt-0001/info.json after/ckpt-0001/info.json || fail "the previous checkpoint's info changed"
    "$plugfit" train run.json --epochs 2 --checkpoint sqlite:run.db --resume >/dev/null || fail "a later save into run.db"
    "$plugfit" inspect sqlite:run.db | grep -q "2 checkpoint(s), latest ckpt-0002" || fail "the later save is not listed"
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
echo "ok: $case_name"
