#!/usr/bin/env bash
# The progress bar on a terminal and piped, a run stopped by TerminateOnNaN, and what plot and
# sqlite: do for a user.
# Usage: terminal_cases.sh PLUGFIT SOURCE_ROOT CASE
source "$(dirname "$0")/lib.sh"

# Long enough for many redraws (one every 50 ms), with loss and accuracy on the line.
write_bar_run() {
  cat >"$1" <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 256, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 4, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=40000,features=256,classes=4"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 1, "batch_size": 32, "seed": 3, "verbose": 1}}
JSON
}

# longest_line FILE: the longest line once split on \r and \n, ANSI sequences stripped.
longest_line() {
  py - "$1" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
lines = re.split(r"[\r\n]", text)
print(max(len(l) for l in lines))
PY
}

case "$case_name" in
  progbar_width)
    # Under a pseudo-terminal of 80, 120 and 40 columns no redrawn line is wider than it.
    write_bar_run run.json
    for columns in 80 120 40; do
      script -qec "stty cols $columns; '$plugfit' train run.json" /dev/null >tty.txt 2>&1 ||
        { cat tty.txt; fail "training under a $columns-column terminal"; }
      redraws=$(tr -cd '\r' <tty.txt | wc -c)
      longest=$(longest_line tty.txt)
      echo "$columns columns: $redraws redraws, longest line $longest"
      [ "$redraws" -ge 3 ] || fail "too few redraws to check at $columns columns"
      [ "$longest" -le "$columns" ] || fail "a line of $longest characters at $columns columns"
      grep -q "1250/1250" tty.txt || fail "the final count is missing at $columns columns"
    done
    ;;
  progbar_piped)
    # Piped, the output is one line per epoch in tf.keras 2's format, whatever the width.
    write_bar_run run.json
    COLUMNS=40 "$plugfit" train run.json >out.txt 2>&1 || fail "training"
    cat out.txt
    ! grep -q $'\r' out.txt || fail "a carriage return in piped output"
    [ "$(wc -l <out.txt)" -eq 2 ] || fail "expected 2 lines"
    grep -Eq '^1250/1250 \[==============================\] - [0-9]+s [0-9]+(us|ms|s)/step - loss: [0-9.]+ - accuracy: [0-9.]+$' out.txt ||
      fail "the epoch line is not in the tf.keras 2 format"
    ;;
  nan_stop)
    # A huge learning rate makes the loss NaN: TerminateOnNaN stops, the bar shows where, the
    # loss prints as nan, and plugfit train fails (exit 1) with one sentence.
    cat >run.json <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 16, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 4, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=13500,features=8,classes=4"},
 "compile": {"optimizer": {"class_name": "SGD", "config": {"learning_rate": 1e6}},
             "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "callbacks": [{"class_name": "TerminateOnNaN"}],
 "fit": {"epochs": 2, "batch_size": 32, "seed": 1, "verbose": 1}}
JSON
    # (not expect_error: its crash check would match "Terminate" in the callback's name)
    "$plugfit" train run.json >stdout.txt 2>stderr.txt
    code=$?
    cat stdout.txt stderr.txt
    [ "$code" -eq 1 ] || fail "exit code $code, expected 1"
    [ "$(wc -l <stderr.txt)" -eq 1 ] || fail "expected one line on stderr"
    grep -Eq '^plugfit: error: training stopped at epoch 1, batch [0-9]+: the loss is nan \(TerminateOnNaN\)$' stderr.txt ||
      fail "not the NaN sentence"
    batch=$(sed -n 's/.*epoch 1, batch \([0-9]*\):.*/\1/p' stderr.txt)
    grep -Eq "^ *$batch/422 \[.*\] - .* - loss: nan - accuracy: " stdout.txt || fail "the bar does not end at $batch/422 with loss: nan"
    ! grep -q "Epoch 2/2" stdout.txt || fail "training went on"
    ;;
  plot_says_what_it_wrote)
    # plugfit plot names the file, its panels (val_ twins share one) and the epochs.
    printf 'epoch,accuracy,loss,val_accuracy,val_loss\n' >history.csv
    for e in 0 1 2 3 4; do printf '%d,0.%d,1.%d,0.%d,1.%d\n' $e $e $e $e $e >>history.csv; done
    "$plugfit" plot history.csv -o curves.svg >out.txt || fail "plugfit plot"
    cat out.txt
    [ "$(cat out.txt)" = "plugfit: wrote curves.svg (2 panels, 5 epochs)" ] || fail "not the expected sentence"
    [ -s curves.svg ] || fail "no SVG"
    ;;
  sqlite_creates_folder)
    # sqlite:new/dir/run.db creates new/dir/ on the first save, as dir: creates its folder.
    cat >run.json <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 4, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=64,features=4,classes=4"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
 "fit": {"epochs": 1, "batch_size": 32, "seed": 1, "verbose": 0}}
JSON
    "$plugfit" train run.json --checkpoint sqlite:new/dir/run.db || fail "training into sqlite:new/dir/run.db"
    [ -f new/dir/run.db ] || fail "new/dir/run.db was not created"
    "$plugfit" inspect sqlite:new/dir/run.db || fail "inspect"
    ;;
  *) fail "unknown case $case_name" ;;
esac
