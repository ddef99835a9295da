#!/usr/bin/env bash
# Hostile files (issue 15): a Keras-layout .h5 whose kernel is stored outside the file, asks for
# a filter plugin, links into another file, is a virtual dataset or has a shape whose product
# wraps; a dir: checkpoint whose manifest names a file outside its folder (absolute, "..", a
# symlink) or a FIFO; an SQLite database whose schema runs its own SQL (a view, a trigger) or
# whose tensor row's shape wraps: each is refused in one sentence naming the file, and nothing
# outside the file is read.
# Usage: hostile_files_cases.sh PLUGFIT SOURCE_ROOT CASE
source "$(dirname "$0")/lib.sh"

# A plugfit-trained model as a legacy .h5, and an input for predict.
cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 4, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=64,features=5,classes=3"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
 "fit": {"epochs": 1, "batch_size": 16, "seed": 3, "verbose": 0}}
JSON
"$plugfit" train run.json --checkpoint hdf5:m.h5 >/dev/null || fail "training the model"

# craft KIND: hostile.h5, m.h5 with plugfit's own group removed (Keras's layout alone) and its
# first kernel replaced as KIND says.
craft() {
  py - "$1" <<'PY' || fail "h5py could not write the crafted file"
import h5py, numpy as np, shutil, sys
kind = sys.argv[1]
shutil.copy("m.h5", "hostile.h5")
with h5py.File("hostile.h5", "r+") as f:
    for key in list(f.keys()):
        if key not in ("model_weights", "optimizer_weights"):
            del f[key]
    path = "model_weights/dense/sequential/dense/kernel"
    shape = f[path].shape
    del f[path]
    if kind == "external":
        f.create_dataset(path, shape, dtype="<f4", external=[("/etc/passwd", 0, h5py.h5f.UNLIMITED)])
    elif kind == "filter":  # LZF: h5py's own filter, a plugin to libhdf5
        f.create_dataset(path, data=np.ones(shape, "f4"), compression="lzf", chunks=shape)
    elif kind == "wrap":  # 3 x 6148914691236517206 = 2^64 + 2: the product wraps to 2 (HDF5's count too)
        f.create_dataset(path, (3, 6148914691236517206), dtype="<f4", chunks=(1, 1))
    elif kind == "link":
        with h5py.File("other.h5", "w") as other:
            other["k"] = np.ones(shape, "f4")
        f[path] = h5py.ExternalLink("other.h5", "/k")
    elif kind == "virtual":
        with h5py.File("other.h5", "w") as other:
            other["k"] = np.ones(shape, "f4")
        layout = h5py.VirtualLayout(shape=shape, dtype="f4")
        layout[:] = h5py.VirtualSource("other.h5", "k", shape=shape)
        f.create_virtual_dataset(path, layout)
np.save("X.npy", np.ones((2, 5), "f4"))
PY
}

# refused KIND PATTERN: predict on the crafted file fails with PATTERN and opens nothing but the
# file, its input and plugfit's own libraries and plugins (strace).
refused() {
  craft "$1"
  expect_error 2 "^plugfit: error: $PWD/hostile.h5 cannot be read: $2$" \
    "$plugfit" predict hostile.h5 --input X.npy --output y.npy
  command -v strace >/dev/null || skip "strace is not installed (scripts/setup installs it)"
  strace -f -e trace=open,openat -o opens.txt "$plugfit" predict hostile.h5 --input X.npy --output y.npy 2>/dev/null
  ! grep -E '"(/etc/passwd|[^"]*other\.h5)"' opens.txt || fail "plugfit opened a file outside the crafted one"
  ! grep -E 'HDF5_PLUGIN|hdf5/lib/plugin|libh5' opens.txt || fail "libhdf5 looked for a filter plugin"
  opened_only opens.txt "^($PWD/)?(hostile\.h5|hostile\.h5\.checkpoints(/.*)?|X\.npy|y\.npy)$"
  echo "nothing outside hostile.h5 was opened"
}

# dir_manifest KIND: ck/ckpt-0001's manifest (checksum recomputed, as an attacker would) names
# its first tensor file as KIND says: absolute, with "..", a FIFO or a symlink out of the folder.
dir_manifest() {
  "$plugfit" train run.json --checkpoint dir:ck >/dev/null || fail "training into dir:ck"
  py - "$1" <<'PY' || fail "could not craft the manifest"
import json, os, sys, zlib
kind, folder = sys.argv[1], "ck/ckpt-0001"
manifest = json.load(open(folder + "/manifest.json"))
entry = next(f for f in manifest["files"] if f["path"].startswith("tensors/"))
secret = os.path.abspath("secret.npy")
with open(secret, "wb") as out:
    out.write(open(folder + "/" + entry["path"], "rb").read())
if kind == "absolute":
    new = secret
elif kind == "dotdot":
    new = "tensors/../../../secret.npy"
elif kind == "fifo":
    new = "tensors/fifo.npy"
    os.mkfifo(folder + "/" + new)
elif kind == "symlink":
    new = "tensors/link.npy"
    os.symlink(secret, folder + "/" + new)
for t in manifest["tensors"]:
    if t["path"] == entry["path"]:
        t["path"] = new
entry["path"] = new
body = {k: v for k, v in manifest.items() if k != "manifest_crc32"}
manifest["manifest_crc32"] = zlib.crc32(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
json.dump(manifest, open(folder + "/manifest.json", "w"), indent=1)
PY
}

# dir_refused KIND PATTERN: predict refuses with PATTERN and inspect ends, both bounded in time
# (a FIFO must not hang them); the outside file's size never appears in the message.
dir_refused() {
  dir_manifest "$1"
  py -c 'import numpy as np; np.save("X.npy", np.ones((2, 5), "f4"))'
  # Exit 1, as for every corrupt checkpoint (cli_checkpoint_corruption): the manifest fails as data.
  expect_error 2 "$2" timeout 20 "$plugfit" predict dir:ck --input X.npy --output y.npy
  if command -v strace >/dev/null; then
    strace -f -e trace=open,openat -o opens.txt "$plugfit" predict dir:ck --input X.npy --output y.npy 2>/dev/null
    # The checkpoint folder's own entries: the manifest named the file outside, it was not opened.
    opened_only opens.txt "^($PWD/)?(ck|ck/.*|X\.npy|y\.npy)$"
  fi
  ! grep -q "$(stat -c %s secret.npy) bytes" stderr.txt || fail "the message tells the outside file's size"
  timeout 20 "$plugfit" inspect dir:ck >inspect.txt 2>&1
  local code=$?
  [ $code -ne 124 ] || fail "inspect hung"
  cat inspect.txt
}

# sqlite_schema KIND: evil.db, plugfit's application id and schema version over a schema that
# runs its own SQL: "checkpoints" a view over an endless recursive query, or a trigger.
sqlite_schema() {
  py - "$1" <<'PY' || fail "could not write evil.db"
import sqlite3, sys
tensors = ("CREATE TABLE tensors(checkpoint TEXT NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL,"
           " shape TEXT NOT NULL, crc INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(checkpoint, position));")
meta = "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);"
checkpoints = ("CREATE TABLE checkpoints(name TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, saved_ns INTEGER NOT NULL,"
               " info TEXT NOT NULL, info_crc INTEGER NOT NULL, tensor_count INTEGER NOT NULL);")
if sys.argv[1] == "view":
    checkpoints = ("CREATE VIEW checkpoints AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
                   " SELECT 'n' || x AS name, x AS seq, 0 AS saved_ns, '{}' AS info, 0 AS info_crc, 0 AS tensor_count FROM c;")
extra = ("CREATE TRIGGER spin AFTER INSERT ON checkpoints BEGIN"
         " WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c; END;"
         if sys.argv[1] == "trigger" else "")
db = sqlite3.connect("evil.db")
db.executescript(tensors + meta + checkpoints + extra +
                 "PRAGMA application_id = %d; PRAGMA user_version = 1;" % 0x504C4654)
db.commit()
PY
}

case "$case_name" in
  hostile_sqlite_view)
    sqlite_schema view
    expect_error 2 "^plugfit: error: sqlite:$PWD/evil.db is not a plugfit checkpoint database: its schema has the view \"checkpoints\", which plugfit does not make$" \
      timeout 20 "$plugfit" inspect sqlite:evil.db
    ;;
  hostile_sqlite_trigger)
    sqlite_schema trigger
    expect_error 2 "^plugfit: error: sqlite:$PWD/evil.db is not a plugfit checkpoint database: its schema has the trigger \"spin\", which plugfit does not make$" \
      timeout 20 "$plugfit" train run.json --checkpoint sqlite:evil.db
    ;;
  hostile_sqlite_wrapping_shape)
    # A tensor row whose shape's product wraps to its 2 stored values, checksum recomputed:
    # corrupt, never loaded as a tensor of 2^64 + 2 elements.
    "$plugfit" train run.json --checkpoint sqlite:m.db >/dev/null || fail "training into sqlite:m.db"
    py - <<'PY' || fail "could not craft the tensor row"
import numpy as np, sqlite3, zlib
np.save("X.npy", np.ones((2, 5), "f4"))
db = sqlite3.connect("m.db")
name, data = db.execute("SELECT name, data FROM tensors WHERE name = 'weights/dense/kernel'").fetchone()
shape, data = "[3,6148914691236517206]", data[:8]
crc = zlib.crc32(data, zlib.crc32((name + "\0" + shape + "\0").encode()))
db.execute("UPDATE tensors SET shape = ?, data = ?, crc = ? WHERE name = ?", (shape, data, crc, name))
db.commit()
PY
    why='checkpoint "ckpt-0001" in sqlite:'"$PWD"'/m.db is corrupt: tensor "weights/dense/kernel" has shape \[3,6148914691236517206\] for 2 values'
    expect_error 2 "^plugfit: error: $why$" "$plugfit" predict sqlite:m.db --input X.npy --output y.npy
    "$plugfit" inspect sqlite:m.db >inspect.txt 2>&1
    grep -E "^  ckpt-0001 +CORRUPT: $why$" inspect.txt || fail "inspect did not list ckpt-0001 as corrupt: $(cat inspect.txt)"
    ;;
  hostile_dir_checksummed_nonsense)
    # Valid checksums over an info.json that is no checkpoint's: --resume says so and falls back.
    py -c 'import json; r = json.load(open("run.json")); r["fit"]["epochs"] = 3; json.dump(r, open("run3.json", "w"))'
    "$plugfit" train run3.json --checkpoint dir:ck >/dev/null || fail "training into dir:ck"
    py - <<'PY' || fail "could not rewrite ckpt-0003"
import json, zlib
folder = "ck/ckpt-0003"
manifest = json.load(open(folder + "/manifest.json"))
info = b'{"hello": 1}'
open(folder + "/info.json", "wb").write(info)
for f in manifest["files"]:
    if f["path"] == "info.json":
        f["size"], f["crc32"] = len(info), zlib.crc32(info)
body = {k: v for k, v in manifest.items() if k != "manifest_crc32"}
manifest["manifest_crc32"] = zlib.crc32(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
json.dump(manifest, open(folder + "/manifest.json", "w"), indent=1)
PY
    "$plugfit" train run3.json --checkpoint dir:ck --resume --epochs 4 --verbose 1 >out.txt 2>err.txt || fail "resume: $(cat err.txt)"
    cat err.txt
    grep -q "^plugfit: warning: dir:$PWD/ck/ckpt-0003 is not a checkpoint plugfit can resume (its info has no \"kind\"); falling back to the previous checkpoint$" err.txt ||
      fail "no warning naming ckpt-0003"
    grep -q "^Resuming from dir:$PWD/ck/ckpt-0002 after epoch 2" out.txt || fail "did not fall back to ckpt-0002"
    ;;
  hostile_dir_absolute_path)
    dir_refused absolute 'its manifest names "/[^"]*secret.npy", a path outside its folder$'
    ;;
  hostile_dir_dotdot_path)
    dir_refused dotdot 'its manifest names "tensors/\.\./\.\./\.\./secret.npy", a path outside its folder$'
    ;;
  hostile_dir_fifo)
    dir_refused fifo ': tensors/fifo.npy is not a regular file$'
    ;;
  hostile_dir_symlink)
    dir_refused symlink ': tensors/link.npy is a symbolic link, not a file of the checkpoint$'
    ;;
  hostile_hdf5_library_crash | hostile_hdf5_library_hang)
    # Files that crash or hang libhdf5 itself (tests/cli/crafted/README.md): read in a child
    # process, each is one sentence and exit 2, within seconds, with no core file left.
    py -c "import numpy as np; np.save('x.npy', np.zeros((2, 4), np.float32))"
    if [ "$case_name" = hostile_hdf5_library_crash ]; then
      cp "$root/tests/cli/crafted/libhdf5_segv.h5" crafted.h5
      why="the HDF5 library crashed reading it \(signal SIGSEGV, in a separate process\)"
    else
      cp "$root/tests/cli/crafted/libhdf5_loop.h5" crafted.h5
      export PLUGFIT_FOREIGN_READ_SECONDS=2
      why="the HDF5 library was still reading it after 2 s \(in a separate process, now stopped; PLUGFIT_FOREIGN_READ_SECONDS gives it longer\)"
    fi
    ulimit -c unlimited 2>/dev/null || true
    for command in "inspect crafted.h5" "predict crafted.h5 --input x.npy --output y.npy" \
                   "evaluate crafted.h5 --data npy:x.npy,x.npy"; do
      start=$SECONDS
      # shellcheck disable=SC2086
      expect_error 2 "^plugfit: error: ([^ ]*/)?crafted.h5 is damaged or crafted: $why$" timeout 20 "$plugfit" $command
      [ $((SECONDS - start)) -le 10 ] || fail "$command took $((SECONDS - start)) s"
    done
    [ -z "$(find . -name 'core*' -type f)" ] || fail "a core file was left"
    ;;
  hostile_hdf5_wrapping_shape)
    refused wrap 'the weight "dense/sequential/dense/kernel" has the shape \(3, 6148914691236517206\), more than the limit of 1073741824 elements per tensor \(PLUGFIT_MAX_TENSOR_ELEMENTS raises it\)'
    ;;
  hostile_hdf5_external_storage)
    refused external 'the dataset "sequential/dense/kernel" keeps its data in external files, which plugfit does not read'
    ;;
  hostile_hdf5_filter_plugin)
    refused filter 'the dataset "sequential/dense/kernel" uses the HDF5 filter 32000 \(plugfit reads only deflate, shuffle and fletcher32\)'
    ;;
  hostile_hdf5_external_link)
    refused link '"sequential/dense/kernel" is an external link to another file, which plugfit does not follow'
    ;;
  hostile_hdf5_virtual_dataset)
    refused virtual 'the dataset "sequential/dense/kernel" is a virtual dataset \(data from other files\), which plugfit does not read'
    ;;
  *) fail "unknown case $case_name" ;;
esac
