#!/usr/bin/env bash
# End-to-end tests of the optimizer options. Usage: numerics_cases.sh PLUGFIT SOURCE_ROOT CASE
# Each case is one meson test; it prints what it checked and exits non-zero on failure.
source "$(dirname "$0")/lib.sh"

# write_accumulating_run FILE [CALLBACKS_JSON]: a 20-16-4 MLP, Adam accumulating 3 batches, 13
# batches per epoch (409 training samples of 512, batch 32), so every epoch ends mid-window.
write_accumulating_run() {
  cat >"$1" <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 16, "activation": "relu"}},
                      {"class_name": "Dropout", "config": {"rate": 0.2}},
                      {"class_name": "Dense", "config": {"units": 4, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=512,features=20,classes=4,labels=linear"},
 "compile": {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.01, "gradient_accumulation_steps": 3}},
             "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "callbacks": ${2:-[]},
 "fit": {"epochs": 2, "batch_size": 32, "validation_split": 0.2, "seed": 4, "verbose": 0}}
JSON
}

# accumulator DIR: prints "ITERATIONS SUM_OF_ABS" of a dir: checkpoint's step count and
# gradient_accumulator slot.
accumulator() {
  py - "$1" <<'PY'
import glob, json, sys
import numpy as np
d = sys.argv[1]
info = json.load(open(d + "/info.json"))
files = glob.glob(d + "/tensors/optimizer/gradient_accumulator/**/*.npy", recursive=True)
assert files, "no gradient_accumulator tensors in " + d
print(info["optimizer"]["iterations"], sum(float(np.abs(np.load(f)).sum()) for f in files))
PY
}

case "$case_name" in
  accumulation_resume_exact)
    # 2 epochs then 2 resumed equal 4 straight, bit for bit: epoch 2 ends at batch 26, two
    # batches into a window, and the accumulator is a slot of the checkpoint.
    write_accumulating_run run.json
    "$plugfit" train run.json --epochs 4 --checkpoint dir:straight || fail "straight run"
    "$plugfit" train run.json --epochs 2 --checkpoint dir:split || fail "first half"
    read -r iterations held < <(accumulator split/ckpt-0002) || fail "no accumulator in ckpt-0002"
    echo "ckpt-0002: iterations $iterations, |accumulator| $held"
    [ "$iterations" = 26 ] || fail "26 batches, iterations $iterations"
    py -c "import sys; sys.exit(0 if float('$held') > 0 else 1)" || fail "the accumulator mid-window is zero"
    "$plugfit" train run.json --epochs 4 --checkpoint dir:split --resume --verbose 2 | tee resume.txt || fail "resumed half"
    grep -q "^Resuming from dir:$PWD/split/ckpt-0002 after epoch 2 (continuing with epoch 3)" resume.txt || fail "did not resume"
    same_tensors straight/ckpt-0004 split/ckpt-0004 || fail "resumed weights or optimizer state differ"
    ;;
  accumulation_save_freq)
    # ModelCheckpoint every 4 batches: b4 holds one batch in the accumulator, b12 (a window's end) none.
    write_accumulating_run run.json \
      '[{"class_name": "ModelCheckpoint", "config": {"filepath": "ck/b{batch}", "save_freq": 4, "monitor": "loss"}}]'
    "$plugfit" train run.json || fail "run with save_freq"
    read -r it4 held4 < <(accumulator ck/b4) || fail "b4"
    read -r it12 held12 < <(accumulator ck/b12) || fail "b12"
    echo "b4: iterations $it4, |accumulator| $held4; b12: iterations $it12, |accumulator| $held12"
    [ "$it4" = 4 ] && [ "$it12" = 12 ] || fail "iterations count batches"
    py -c "import sys; sys.exit(0 if float('$held4') > 0 and float('$held12') == 0 else 1)" ||
      fail "the accumulator is not one batch at b4 and empty at b12"
    ;;
  accumulation_backup_kill)
    # BackupAndRestore every 4 batches, the run SIGKILLed after a backup: the restored run
    # resumes inside an accumulation window (a batch not a multiple of 3) and ends with the
    # weights and optimizer state of an uninterrupted run, bit for bit.
    cat >run.json <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 256, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 8, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=8000,features=128,classes=8,labels=linear"},
 "compile": {"optimizer": {"class_name": "Adam", "config": {"gradient_accumulation_steps": 3}},
             "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "callbacks": [{"class_name": "BackupAndRestore", "config": {"backup_dir": "backup", "save_freq": 4}}],
 "fit": {"epochs": 3, "batch_size": 32, "seed": 5, "verbose": 0}}
JSON
    "$plugfit" train run.json --checkpoint dir:straight || fail "uninterrupted run"
    resumed_mid_window=no
    for attempt in 1 2 3 4 5 6; do
      rm -rf backup killed  # a fresh run each attempt (an earlier attempt's checkpoints would be refused)
      "$plugfit" train run.json --checkpoint dir:killed >/dev/null 2>&1 &
      pid=$!
      for _ in $(seq 1 400); do [ -e backup/backup ] && break; sleep 0.01; done
      sleep "0.$(( (RANDOM % 20) + 1 ))"
      kill -9 $pid 2>/dev/null || { wait $pid; fail "training finished before the kill"; }
      wait $pid 2>/dev/null
      "$plugfit" train run.json --checkpoint dir:killed --verbose 1 >log.txt 2>&1 || fail "the resumed run failed"
      read -r epoch batch < <(sed -n 's/^Restored the backup.*epoch \([0-9]*\), batch \([0-9]*\)$/\1 \2/p' log.txt)
      [ -n "${batch:-}" ] || fail "no backup was restored: $(cat log.txt)"
      batch=$(( (epoch - 1) * 250 + batch ))  # 250 batches per epoch
      echo "attempt $attempt: restored after $batch batches"
      same_tensors straight/ckpt-0003 killed/ckpt-0003 || fail "the resumed run differs from the uninterrupted one"
      if [ $((batch % 3)) -ne 0 ]; then resumed_mid_window=yes; break; fi
    done
    [ "$resumed_mid_window" = yes ] || fail "never restored inside an accumulation window"
    ;;
  optimizer_refusals)
    write_accumulating_run run.json
    sed 's/"gradient_accumulation_steps": 3/"jit_compile": true/' run.json >jit.json
    expect_error 2 "error: jit.json: Adam: jit_compile is an XLA compilation flag; plugfit has no XLA, set it to false" \
      "$plugfit" train jit.json
    sed 's/"gradient_accumulation_steps": 3/"use_ema": true/' run.json >ema.json
    expect_error 2 "Adam: use_ema is not supported" "$plugfit" train ema.json
    ;;
  *) fail "unknown case $case_name" ;;
esac
