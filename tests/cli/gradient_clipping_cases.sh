#!/usr/bin/env bash
# End-to-end tests of the gradient_clipping plugin. Usage: gradient_clipping_cases.sh PLUGFIT SOURCE_ROOT CASE
# Each case is one meson test; it prints what it checked and exits non-zero on failure.
source "$(dirname "$0")/lib.sh"

# write_sgd_run FILE LEARNING_RATE [CALLBACKS_JSON]: a 20-16-4 MLP, plain SGD, on synthetic
# linearly separable data (512 samples, 4 classes); 10 epochs of 16 batches, seed fixed.
write_sgd_run() {
  cat >"$1" <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 16, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 4, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=512,features=20,classes=4,labels=linear,seed=2"},
 "compile": {"optimizer": {"class_name": "SGD", "config": {"learning_rate": $2}},
             "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "callbacks": ${3:-[]},
 "fit": {"epochs": 10, "batch_size": 32, "seed": 1, "verbose": 2}}
JSON
}
clipping() { echo "[{\"class_name\": \"gradient_clipping>GradientClipping\", \"config\": $1}]"; }

# check_losses LOG RULE: prints the losses, then checks RULE, a Python expression over the
# list `l` of the epoch losses (floats, nan and inf included) and `finite` (all finite).
check_losses() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import math, re, sys
log, rule = sys.argv[1], sys.argv[2]
l = [float(m.group(1)) for m in re.finditer(r" - loss: ([-+a-z0-9.]+)", open(log).read())]
finite = bool(l) and all(math.isfinite(x) for x in l)
print("  epoch losses:", " ".join(f"{x:.4f}" for x in l))
print(f"  first {l[0]:.4f}, final {l[-1]:.4f}; rule: {rule} -> {bool(eval(rule))}")
sys.exit(0 if eval(rule) else 1)
PY
}

strip_time() { sed -E 's/ - [0-9]+s - [0-9]+[mu]?s\/step//' "$1"; }

case "$case_name" in
  gradient_clipping_divergence)
    # Issue 6, Done means 3: SGD with learning_rate 50 diverges without clipping (the loss is NaN
    # or Inf, or above 1000, by the last epoch); with global_clipnorm the loss stays finite in
    # every epoch. A clip of 1.0 bounds each step to a norm of 50: finite, but too coarse to
    # learn; 0.02 bounds it to 1.0: the loss falls to under a third of its first epoch and
    # below 0.3.
    write_sgd_run plain.json 50
    "$plugfit" train plain.json >plain.txt 2>&1 || { cat plain.txt; fail "the run without clipping failed"; }
    echo "without clipping (SGD learning_rate 50):"
    check_losses plain.txt 'not math.isfinite(l[-1]) or l[-1] > 1000' || fail "the run without clipping did not diverge"

    write_sgd_run clip1.json 50 "$(clipping '{"global_clipnorm": 1.0}')"
    "$plugfit" train clip1.json >clip1.txt 2>&1 || { cat clip1.txt; fail "the run with global_clipnorm 1.0 failed"; }
    echo "with GradientClipping global_clipnorm 1.0:"
    check_losses clip1.txt 'finite and max(l) < 100' || fail "global_clipnorm 1.0 did not keep the loss finite"

    write_sgd_run clip.json 50 "$(clipping '{"global_clipnorm": 0.02}')"
    "$plugfit" train clip.json >clip.txt 2>&1 || { cat clip.txt; fail "the run with global_clipnorm 0.02 failed"; }
    echo "with GradientClipping global_clipnorm 0.02:"
    check_losses clip.txt 'finite and l[-1] < 0.3 and l[-1] < l[0] / 3' || fail "global_clipnorm 0.02 did not train"
    grep "accuracy" clip.txt | tail -1 | sed 's/^/  last epoch: /'

    # Deterministic: the same run file gives the same log (times aside).
    "$plugfit" train clip.json >again.txt 2>&1 || fail "the repeated run failed"
    [ "$(strip_time clip.txt)" = "$(strip_time again.txt)" ] || fail "the same seed gave different logs"
    echo "the repeated run's log is identical"
    ;;
  gradient_clipping_options)
    # Per-weight norm, value, and all three together also keep lr 50 finite and learning: the
    # final loss under 0.5 and under half the first epoch's.
    for config in '{"clipnorm": 0.01}' '{"clipvalue": 0.001}' '{"clipvalue": 0.1, "clipnorm": 0.05, "global_clipnorm": 0.02}'; do
      write_sgd_run run.json 50 "$(clipping "$config")"
      "$plugfit" train run.json >out.txt 2>&1 || { cat out.txt; fail "the run with $config failed"; }
      echo "with GradientClipping $config:"
      check_losses out.txt 'finite and l[-1] < 0.5 and l[-1] < l[0] / 2' || fail "$config did not keep the loss finite and low"
    done
    # Bad options: one sentence, exit 2.
    write_sgd_run run.json 50 "$(clipping '{}')"
    expect_error 2 'gradient_clipping>GradientClipping needs at least one of "clipnorm", "global_clipnorm", "clipvalue"' \
      "$plugfit" train run.json
    write_sgd_run run.json 50 "$(clipping '{"clipnorm": -1}')"
    expect_error 2 '"clipnorm" must be a positive number, got -1' "$plugfit" train run.json
    write_sgd_run run.json 50 "$(clipping '{"global_clipnorm": 0}')"
    expect_error 2 '"global_clipnorm" must be a positive number, got 0' "$plugfit" train run.json
    write_sgd_run run.json 50 "$(clipping '{"clip_norm": 1.0}')"
    expect_error 2 'has no option "clip_norm"' "$plugfit" train run.json
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
echo "ok: $case_name"
