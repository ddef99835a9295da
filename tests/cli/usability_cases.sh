#!/usr/bin/env bash
# Help, misspelt flags, fresh runs into used locations, missing locations.
# Usage: usability_cases.sh PLUGFIT SOURCE_ROOT CASE
source "$(dirname "$0")/lib.sh"

write_run() {
  cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 4, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=64,features=4,classes=4"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 2, "batch_size": 32, "seed": 1, "verbose": 0}}
JSON
}

case $case_name in
  help_every_command)
    "$plugfit" --help >top.txt || fail "plugfit --help exit code"
    for code in 0 1 2 130 143; do grep -Eq "^  $code\b|, $code\b" top.txt || fail "exit code $code not in --help"; done
    for command in train evaluate predict inspect convert plot plugins; do
      for asked in --help -h; do
        "$plugfit" $command $asked >help.txt 2>err.txt || fail "$command $asked exit code $?"
        [ ! -s err.txt ] || fail "$command $asked wrote on stderr: $(cat err.txt)"
        grep -q "^usage: plugfit $command" help.txt || fail "$command $asked: no usage line"
        grep -q -- "-h, --help" help.txt || fail "$command $asked: --help not listed"
      done
      "$plugfit" help $command | cmp -s - help.txt || fail "plugfit help $command differs from $command -h"
    done
    "$plugfit" train --help >help.txt
    for option in --epochs --batch-size --verbose --seed --checkpoint --resume --overwrite --plugin --plugin-path; do
      grep -q -- "^  $option" help.txt || fail "train --help does not list $option"
    done
    grep -q -- "--epochs N .*total number of epochs.*--resume" help.txt || fail "--epochs is not said to be the total"
    # -h after a positional is help, not a file name
    "$plugfit" inspect -h | grep -q "^usage: plugfit inspect" || fail "inspect -h"
    ;;
  unknown_flag_suggests)
    write_run
    expect_error 2 '^plugfit train: unknown option --epoch; did you mean --epochs\?$' "$plugfit" train run.json --epoch 3
    expect_error 2 '^plugfit train: unknown option --chekpoint; did you mean --checkpoint\?$' "$plugfit" train run.json --chekpoint dir:x
    expect_error 2 '^plugfit inspect: unknown option --jsn; did you mean --json\?$' "$plugfit" inspect dir:x --jsn
    expect_error 2 '^plugfit train: unknown option --zzzzzz \(plugfit train --help lists its options\)$' "$plugfit" train run.json --zzzzzz
    expect_error 2 '^plugfit: unknown command "trian"; did you mean train\?$' "$plugfit" trian run.json
    expect_error 2 '^plugfit train: --epochs needs a non-negative integer, got "x"$' "$plugfit" train run.json --epochs x
    [ ! -e x ] || fail "a rejected command created something"
    ;;
  fresh_run_guard)
    write_run
    "$plugfit" train run.json --checkpoint dir:ck >/dev/null || fail "first run"
    before=$(cd ck && find . -type f -exec md5sum {} + | sort)
    expect_error 2 "^plugfit: error: dir:$work/ck already holds 2 checkpoints of an earlier run; continue it with --resume, train into a new location, or pass --overwrite to remove them first$" \
      "$plugfit" train run.json --checkpoint dir:ck --seed 5
    [ "$(cd ck && find . -type f -exec md5sum {} + | sort)" = "$before" ] || fail "the refused run touched ck"
    expect_error 2 "--overwrite and --resume contradict each other" "$plugfit" train run.json --checkpoint dir:ck --resume --overwrite
    expect_error 2 "--overwrite needs a checkpoint location" "$plugfit" train run.json --overwrite
    # --resume continues (the total is --epochs); --overwrite starts over with a clean index.
    "$plugfit" train run.json --checkpoint dir:ck --resume --epochs 3 >/dev/null || fail "--resume"
    [ -d ck/ckpt-0003 ] || fail "resume did not reach epoch 3"
    "$plugfit" train run.json --checkpoint dir:ck --overwrite --epochs 1 >/dev/null || fail "--overwrite"
    [ "$(ls ck | grep -c '^ckpt-')" -eq 1 ] || fail "--overwrite left the old checkpoints: $(ls ck)"
    py -c "import json,sys; i=json.load(open('ck/index.json')); sys.exit(0 if [c['name'] for c in i['checkpoints']] == ['ckpt-0001'] else 1)" ||
      fail "the index still names the old run: $(cat ck/index.json)"
    # The same guard for a plugin backend.
    "$plugfit" train run.json --checkpoint sqlite:runs.db >/dev/null || fail "sqlite run"
    expect_error 2 "^plugfit: error: sqlite:.*runs.db already holds 2 checkpoints of an earlier run" "$plugfit" train run.json --checkpoint sqlite:runs.db
    ;;
  missing_location)
    write_run
    expect_error 2 '^plugfit: error: the checkpoint location dir:/nope/nothing does not exist$' "$plugfit" inspect dir:/nope/nothing
    expect_error 2 '^plugfit: error: the checkpoint location dir:/nope/nothing does not exist$' "$plugfit" evaluate dir:/nope/nothing
    expect_error 2 "^plugfit: error: the checkpoint location sqlite:gone.db does not exist \(looked at $work/gone.db\)$" "$plugfit" inspect sqlite:gone.db
    expect_error 2 "^plugfit: error: the checkpoint location hdf5:sub/gone.h5 does not exist" "$plugfit" evaluate hdf5:sub/gone.h5
    expect_error 2 "the checkpoint location dir:absent does not exist" "$plugfit" predict dir:absent --input x.npy --output y.npy
    expect_error 2 "the checkpoint location dir:absent does not exist" "$plugfit" convert dir:absent dir:other
    [ -z "$(ls | grep -v '^run.json$\|^stdout.txt$\|^stderr.txt$')" ] || fail "something was created: $(ls)"
    expect_error 2 '^plugfit: error: no checkpoint backend for "nope:" URIs \(known: dir, hdf5, sqlite, tf;' "$plugfit" inspect nope:x
    ;;
  *) fail "unknown case $case_name" ;;
esac
echo "ok: $case_name"
