#!/usr/bin/env bash
# End-to-end tests of training curves: `plugfit plot`, the HistoryPlot and JsonLinesLogger
# callbacks. Usage: plot_cases.sh PLUGFIT SOURCE_ROOT CASE
# Each case is one meson test; it prints what it checked and exits non-zero on failure. Debian's
# /usr/bin/python3 (its ElementTree) checks that every SVG is well-formed XML.
source "$(dirname "$0")/lib.sh"

[ -x /usr/bin/python3 ] || fail "Debian's /usr/bin/python3 is needed to parse the SVGs"
[ -d "$root/tests/cli" ] || fail "SOURCE_ROOT $root is not the plugfit source tree"


# check_svg FILE SERIES... : FILE parses with ElementTree, is self-contained, has one <path> per
# series named, a legend <text> naming each, an "epoch" axis title per panel; prints a summary.
# POINTS=N (environment) also checks that every series path has N points.
check_svg() {
  py - "$@" <<'PY'
import os, re, sys
import xml.etree.ElementTree as ET
path, series = sys.argv[1], sys.argv[2:]
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(path).getroot()  # raises on malformed XML
assert root.tag == ns + "svg", root.tag
for banned in ("script", "style", "image", "use", "foreignObject"):
    assert not root.findall(".//" + ns + banned), "self-contained SVG has <%s>" % banned
text = open(path, encoding="utf-8").read()
assert "href" not in text and "url(" not in text, "external reference in the SVG"
paths = root.findall(".//" + ns + "path")
texts = [t.text for t in root.iter(ns + "text")]
assert len(paths) == len(series), "%d paths for %d series %s" % (len(paths), len(series), series)
for s in series:
    assert s in texts, "no legend text %r in %s" % (s, texts)
panels = len({s[4:] if s.startswith("val_") else s for s in series})
assert texts.count("epoch") == panels, "%d 'epoch' axis titles for %d panels" % (texts.count("epoch"), panels)
dashed = [p for p in paths if p.get("stroke-dasharray")]
assert len(dashed) == sum(s.startswith("val_") for s in series), "val_ series are the dashed ones"
want = os.environ.get("POINTS")
for p in paths:
    n = len(re.findall("[ML]", p.get("d")))
    assert want is None or n == int(want), "a path with %d points, expected %s" % (n, want)
print("%s: well-formed SVG, %d series paths (%d dashed), %d panels, legend %s" %
      (path, len(paths), len(dashed), panels, ", ".join(series)))
PY
}

# write_run FILE EPOCHS CALLBACKS_JSON: a small MLP on synthetic data, a quarter held out for validation.
write_run() {
  cat >"$1" <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 16, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=256,features=8,classes=3,labels=linear"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": $2, "batch_size": 32, "validation_split": 0.25, "seed": 7, "verbose": 0},
 "callbacks": $3}
JSON
}
callbacks='[{"class_name": "CSVLogger", "config": {"filename": "history.csv"}},
            {"class_name": "HistoryPlot", "config": {"filename": "live.svg", "title": "Synthetic <run> & co"}},
            {"class_name": "JsonLinesLogger", "config": {"filename": "history.jsonl"}}]'
series=(loss val_loss accuracy val_accuracy)

# same_losses CSV JSONL N: both files hold N epochs, 0-based, with the same loss and val_loss values.
same_losses() {
  py - "$@" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
lines = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
n = int(sys.argv[3])
assert len(rows) == n, "%d CSV rows, expected %d" % (len(rows), n)
assert len(lines) == n, "%d JSON lines, expected %d" % (len(lines), n)
for r, j in zip(rows, lines):
    assert int(r["epoch"]) == j["epoch"], (r["epoch"], j["epoch"])
    assert list(j)[0] == "epoch", "epoch is not the first key: %s" % list(j)
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert float(r[key]) == j[key], (key, r[key], j[key])
print("%d epochs (%s): CSV and JSON lines agree, losses %s" %
      (n, ", ".join(str(j["epoch"]) for j in lines), ", ".join(r["loss"] for r in rows)))
PY
}

case "$case_name" in
  plot_train_callbacks)
    # A 4-epoch run with CSVLogger, HistoryPlot and JsonLinesLogger; then `plugfit plot` of its CSV
    # and of its JSON lines. All three SVGs are well formed, with the four series; the CLI's curves
    # are the callback's, point for point.
    write_run run.json 4 "$callbacks"
    "$plugfit" train run.json || fail "training"
    [ "$(wc -l <history.jsonl)" -eq 4 ] || fail "history.jsonl has $(wc -l <history.jsonl) lines, expected 4"
    same_losses history.csv history.jsonl 4 || fail "the JSON lines disagree with the CSV"
    POINTS=4 check_svg live.svg "${series[@]}" || fail "HistoryPlot's SVG"
    grep -q "Synthetic &lt;run&gt; &amp; co" live.svg || fail "the title is not escaped"
    "$plugfit" plot history.csv -o curves.svg || fail "plugfit plot history.csv"
    POINTS=4 check_svg curves.svg "${series[@]}" || fail "plugfit plot's SVG"
    "$plugfit" plot history.jsonl -o curves_jsonl.svg --title "From JSON lines" || fail "plugfit plot history.jsonl"
    POINTS=4 check_svg curves_jsonl.svg "${series[@]}" || fail "plugfit plot's SVG of the JSON lines"
    grep -q "From JSON lines" curves_jsonl.svg || fail "--title not used"
    py - <<'PY' || fail "the curves differ"
import xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
d = lambda f: [p.get("d") for p in ET.parse(f).getroot().iter(ns + "path")]
assert d("live.svg") == d("curves.svg") == d("curves_jsonl.svg"), "the three figures draw different curves"
print("HistoryPlot, plot of the CSV and plot of the JSON lines draw the same curves")
PY
    ls -A | grep -q '\.tmp$' && fail "temporary files left behind: $(ls -A)"
    echo "ok"
    ;;
  plot_resume)
    # Two epochs with a checkpoint, then --resume to four: HistoryPlot's state brings back the first
    # two epochs, the JSON lines continue without duplicates.
    write_run run.json 4 "$callbacks"
    "$plugfit" train run.json --epochs 2 --checkpoint dir:ckpts || fail "training 2 epochs"
    POINTS=2 check_svg live.svg "${series[@]}" || fail "HistoryPlot's SVG after 2 epochs"
    "$plugfit" train run.json --checkpoint dir:ckpts --resume || fail "resuming to 4 epochs"
    POINTS=4 check_svg live.svg "${series[@]}" || fail "HistoryPlot's SVG after the resume"
    same_losses history.csv history.jsonl 4 || fail "the JSON lines after the resume"
    # A resume from an earlier checkpoint drops the lines written after it.
    rm -rf ckpts/ckpt-0004
    "$plugfit" train run.json --checkpoint dir:ckpts --resume --verbose 1 >resume.txt 2>&1 ||
      fail "resuming from epoch 3: $(cat resume.txt)"
    grep -q "Resuming from .*ckpt-0003 after epoch 3" resume.txt || fail "did not resume from ckpt-0003: $(cat resume.txt)"
    same_losses history.csv history.jsonl 4 || fail "the JSON lines after a second resume"
    POINTS=4 check_svg live.svg "${series[@]}" || fail "HistoryPlot's SVG after the second resume"
    echo "ok"
    ;;
  plot_shapes)
    # One epoch, a hundred epochs with gaps (validation every 10th epoch), names needing escapes,
    # a learning_rate panel, CSVLogger's separator option.
    printf 'epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.5,1.25,0.4,1.5\r\n' >one.csv
    "$plugfit" plot one.csv -o one.svg || fail "plot of one epoch"
    POINTS=1 check_svg one.svg "${series[@]}" || fail "one epoch"
    py - <<'PY'
import math
with open("hundred.csv", "w", newline="") as f:
    f.write("epoch,learning_rate,loss,val_loss\r\n")
    for e in range(100):
        val = str(1.1 / (1 + e) + 0.1) if e % 10 == 9 else "NA"
        loss = "nan" if e == 50 else str(1.0 / (1 + e) + 0.05)
        f.write("%d,%s,%s,%s\r\n" % (e, 0.001 * 0.5 ** (e // 30), loss, val))
PY
    "$plugfit" plot hundred.csv -o hundred.svg || fail "plot of 100 epochs"
    check_svg hundred.svg loss val_loss learning_rate || fail "100 epochs"
    py - <<'PY' || fail "100 epochs: points"
import re, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse("hundred.svg").getroot()
counts = [len(re.findall("[ML]", p.get("d"))) for p in root.iter(ns + "path")]
assert counts == [99, 10, 100], counts  # loss without its NaN, val_loss every 10th, the rate
texts = [t.text for t in root.iter(ns + "text")]
for tick in ("20", "40", "60", "80", "100"):
    assert texts.count(tick) == 2, (tick, texts)  # on both x axes
print("100 epochs: points per series", counts, "- x ticks 20..100")
PY
    printf 'epoch;a<b&c;val_a<b&c\r\n0;1;2\r\n1;2;3\r\n' >odd.csv
    "$plugfit" plot odd.csv -o odd.svg --title 'Quotes " and <tags>' || fail "plot of odd names"
    check_svg odd.svg 'a<b&c' 'val_a<b&c' || fail "names needing escapes"
    echo "ok"
    ;;
  plot_errors)
    printf 'epoch,loss,val_loss\r\n0,0.5,0.4\r\n1,0.4x,0.3\r\n' >bad.csv
    expect_error 2 '^plugfit: error: bad.csv:3: column 2 \("loss"\): "0.4x" is not a number$' \
      "$plugfit" plot bad.csv -o out.svg
    printf 'epoch,loss\r\n0,0.5,0.1\r\n' >fields.csv
    expect_error 2 '^plugfit: error: fields.csv:2: 3 fields where the header has 2$' "$plugfit" plot fields.csv -o out.svg
    printf 'epoch\r\n0\r\n' >only_epoch.csv
    expect_error 2 'only_epoch.csv has no metric columns besides "epoch"' "$plugfit" plot only_epoch.csv -o out.svg
    printf 'epoch,loss\r\n0,NA\r\n' >no_numbers.csv
    expect_error 2 'no_numbers.csv holds no numeric values to plot' "$plugfit" plot no_numbers.csv -o out.svg
    expect_error 2 '^plugfit: error: missing.csv: cannot be read \(No such file or directory\)$' \
      "$plugfit" plot missing.csv -o out.svg
    printf '{"epoch": 0, "loss": 0.5}\n{"epoch": 1, loss}\n' >bad.jsonl
    expect_error 2 '^plugfit: error: bad.jsonl:2:14: malformed JSON' "$plugfit" plot bad.jsonl -o out.svg
    printf 'epoch,loss\r\n0,0.5\r\n' >good.csv
    expect_error 2 'plot needs the SVG file to write: -o OUT.svg' "$plugfit" plot good.csv
    expect_error 2 'missing HISTORY; usage: plugfit plot' "$plugfit" plot
    expect_error 2 'plugfit plot: unknown option --colour \(plugfit plot --help lists its options\)' "$plugfit" plot good.csv -o x.svg --colour red
    expect_error 2 'cannot write "no/such/dir/out.svg"' "$plugfit" plot good.csv -o no/such/dir/out.svg
    [ ! -e out.svg ] || fail "an SVG was written despite the errors"
    "$plugfit" --help | grep -q "plot HISTORY.csv -o OUT.svg" || fail "plot is not in --help"
    write_run run.json 1 '[{"class_name": "HistoryPlot", "config": {"filename": "no/such/dir/h.svg"}}]'
    # fit() reports a callback's failure as a training failure (exit 1), naming the callback.
    expect_error 1 'callback HistoryPlot failed in on_train_begin: HistoryPlot: cannot write "no/such/dir/h.svg"' \
      "$plugfit" train run.json
    write_run run.json 1 '[{"class_name": "JsonLinesLogger", "config": {"filename": "h.jsonl", "apend": true}}]'
    expect_error 2 'apend' "$plugfit" train run.json
    echo "ok"
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
