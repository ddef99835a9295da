#!/usr/bin/env bash
# Ctrl-C is a clean stop: signals sent to a real `plugfit train`. Usage: interrupt_cases.sh PLUGFIT SOURCE_ROOT CASE
# Each wait is bounded; the signal goes out when a progress marker appears, never after a fixed sleep.
source "$(dirname "$0")/lib.sh"

# write_run FILE BATCH_SIZE [CALLBACKS_JSON]: about 2,000 batches an epoch at batch size 32.
write_run() {
  cat >"$1" <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 512, "activation": "relu"}},
                      {"class_name": "Dropout", "config": {"rate": 0.3}},
                      {"class_name": "Dense", "config": {"units": 8, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=60000,features=128,classes=8,labels=linear"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "callbacks": [{"class_name": "CSVLogger", "config": {"filename": "log.csv"}}${3:-}],
 "fit": {"epochs": 4, "batch_size": $2, "validation_split": 0.1, "seed": 9, "verbose": 0}}
JSON
}

# wait_for_rows N PID: until log.csv holds N epoch rows (the header excluded), at most 60 s.
wait_for_rows() {
  for _ in $(seq 1 1200); do
    [ "$(cat log.csv 2>/dev/null | wc -l)" -gt "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || fail "training ended before $1 epoch(s) were logged"
    sleep 0.05
  done
  fail "no epoch logged within 60 s"
}

# wait_bounded PID SECONDS: the process's exit code, failing if it is still running after SECONDS.
wait_bounded() {
  for _ in $(seq 1 $(($2 * 20))); do
    kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
    sleep 0.05
  done
  kill -9 "$1"
  fail "still running $2 s after the signal"
}

# stop_after_first_epoch SIGNAL EXPECTED_CODE: trains run.json into dir:cut, sends SIGNAL once an
# epoch is logged, and checks the exit code and that stderr is one line (left in stderr.txt).
stop_after_first_epoch() {
  "$plugfit" train run.json --checkpoint dir:cut >stdout.txt 2>stderr.txt &
  local pid=$! code
  wait_for_rows 1 $pid
  kill "-$1" $pid
  wait_bounded $pid 30
  code=$?
  echo "exit $code: $(cat stderr.txt)"
  [ $code -eq "$2" ] || fail "exit code $code, expected $2"
  [ "$(wc -l <stderr.txt)" -eq 1 ] || fail "expected one line on stderr"
}

case "$case_name" in
  interrupt_sigint_resume)
    # SIGINT mid-epoch: one line naming the position and the manager's mid-epoch checkpoint,
    # exit 130; --resume from it ends bit-identical to an uninterrupted run.
    write_run run.json 32
    "$plugfit" train run.json --checkpoint dir:straight || fail "uninterrupted run"
    rm -f log.csv
    stop_after_first_epoch INT 130
    grep -Eq "^plugfit: interrupted at epoch [2-4], batch [0-9]+ \(SIGINT\); saved dir:$PWD/cut#ckpt-000[2-4]-[0-9]{6}; resume with --resume$" stderr.txt ||
      fail "the message does not name the position and the checkpoint"
    name=$(grep -Eo "ckpt-[0-9]{4}-[0-9]{6}" stderr.txt)
    [ -d "cut/$name" ] || fail "the checkpoint $name is not there"
    "$plugfit" train run.json --checkpoint dir:cut --resume --verbose 1 >resume.txt 2>&1 || { cat resume.txt; fail "resume"; }
    grep "^Resuming from" resume.txt
    grep -q "^Resuming from dir:$PWD/cut/$name " resume.txt || fail "did not resume from $name"
    # The resume names the position the interrupt named (epochs counted from 1 in both).
    where=$(grep -Eo "epoch [0-9]+, batch [0-9]+" stderr.txt)
    epoch=${where#epoch }; epoch=${epoch%%,*}; batch=${where##* }
    grep -q "^Resuming from dir:$PWD/cut/$name at epoch $epoch, after batch $batch$" resume.txt ||
      fail "the resume does not continue at epoch $epoch, batch $batch"
    same_tensors straight/ckpt-0004 cut/ckpt-0004 || fail "the resumed run differs from the uninterrupted one"
    ;;
  interrupt_sigterm_backup)
    # SIGTERM (what schedulers send) is the same clean stop, exit 143; BackupAndRestore saves the
    # stopped position too, and a plain rerun (no --resume) continues from the backup exactly.
    write_run run.json 32 ', {"class_name": "BackupAndRestore", "config": {"backup_dir": "backup", "save_freq": 500}}'
    "$plugfit" train run.json --checkpoint dir:straight || fail "uninterrupted run"
    [ ! -e backup/backup ] || fail "the backup was not deleted after a successful run"
    rm -f log.csv
    stop_after_first_epoch TERM 143
    grep -Eq "^plugfit: interrupted at epoch [2-4], batch [0-9]+ \(SIGTERM\); saved dir:$PWD/backup#backup, dir:$PWD/cut#ckpt-000[2-4]-[0-9]{6}; resume with --resume$" stderr.txt ||
      fail "the message does not name the position, the backup and the checkpoint"
    [ -e backup/backup ] || fail "no backup kept"
    "$plugfit" train run.json --checkpoint dir:cut --verbose 1 >rerun.txt 2>&1 || { cat rerun.txt; fail "rerun"; }
    grep "^Restored the backup" rerun.txt || fail "the rerun did not restore the backup"
    same_tensors straight/ckpt-0004 cut/ckpt-0004 || fail "the run continued from the backup differs from the uninterrupted one"
    ;;
  interrupt_twice)
    # A second SIGINT ends the process at once: no clean-stop line, no mid-epoch checkpoint.
    # Batches of 8192 take far longer than the gap between the two signals.
    write_run run.json 8192
    "$plugfit" train run.json --checkpoint dir:cut >stdout.txt 2>stderr.txt &
    pid=$!
    wait_for_rows 1 $pid
    kill -INT $pid
    # Signals of one kind do not queue: send the second once the first has been delivered.
    for _ in $(seq 1 200); do
      pending=$(awk '/^ShdPnd:/ {print $2}' /proc/$pid/status 2>/dev/null) || break
      (( (16#${pending:-0} & 2) == 0 )) && break
      sleep 0.01
    done
    kill -INT $pid
    wait_bounded $pid 10
    code=$?
    echo "exit $code: $(cat stderr.txt)"
    [ $code -eq 130 ] || fail "exit code $code, expected 130 (ended by SIGINT)"
    ! grep -q "interrupted" stderr.txt || fail "the second SIGINT waited for the clean stop"
    ! ls cut | grep -Eq "^ckpt-[0-9]{4}-" || fail "a mid-epoch checkpoint was saved"
    ;;
  *) fail "unknown case $case_name" ;;
esac
echo "PASS $case_name"
