#!/usr/bin/env bash
# Writes the seed corpora in tests/fuzz/corpus/ from a build: small files of every format, made
# by plugfit itself (checkpoints in each backend, a Keras archive) and by numpy (npy, idx).
# Seeds are regenerated only when a format changes; inputs that once crashed are added by hand
# (named crash-*) and never removed. Usage: tests/fuzz/make_corpus.sh BUILD_DIR
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
plugfit=$build/core/plugfit
corpus=$src/tests/fuzz/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

/usr/bin/python3 - "$corpus" <<'PY'
import numpy as np, os, struct, sys
corpus = sys.argv[1]
def save(kind, name, data):
    open(os.path.join(corpus, kind, "seed-" + name), "wb").write(data)
import io
for name, array in [("f32", np.arange(6, dtype="<f4").reshape(2, 3)), ("u8", np.arange(8, dtype="u1").reshape(2, 2, 2)),
                    ("i64", np.array([1, 2, 3], dtype="<i8")), ("f64be", np.array([[1.5, -2.0]], dtype=">f8")),
                    ("scalar", np.array(3.0, dtype="<f4")), ("empty", np.zeros((0, 3), dtype="<f4")),
                    ("fortran", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))]:
    buffer = io.BytesIO(); np.save(buffer, array); save("npy", name + ".npy", buffer.getvalue())
buffer = io.BytesIO(); np.lib.format.write_array(buffer, np.ones((2, 2), "<f4"), version=(2, 0)); save("npy", "v2.npy", buffer.getvalue())
save("idx", "images.idx", struct.pack(">I", 0x0803) + struct.pack(">III", 2, 2, 3) + bytes(range(12)))
save("idx", "labels.idx", struct.pack(">I", 0x0801) + struct.pack(">I", 3) + bytes([0, 1, 2]))
save("idx", "floats.idx", struct.pack(">I", 0x0D02) + struct.pack(">II", 1, 2) + struct.pack(">ff", 1.0, 2.0))
save("csv", "header.csv", b"a,b,label\n1,2,0\n3.5,4,1\n")
save("csv", "quoted.csv", b'"x","y"\n"1","2"\n\n3,4\n')
save("csv", "plain.csv", b"0.1,0.2,0.3\n-1e3,2,1\n")
PY

cp "$src"/sample_models/*.json "$corpus/run_file/" 2>/dev/null || true
for f in "$corpus"/run_file/*.json; do case $(basename "$f") in seed-*) ;; *) mv "$f" "$corpus/run_file/seed-$(basename "$f")" ;; esac; done
strip -o "$corpus/plugin_note/seed-faulty.so" "$build/tests/plugins/faulty.so"
strip -o "$corpus/plugin_note/seed-bad_abi_major.so" "$build/tests/plugins/bad_abi_major.so"

# A small model trained into each backend.
cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 3, "activation": "relu"}},
                      {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=16,features=4,classes=2", "validation": "synthetic:samples=8,features=4,classes=2"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 2, "batch_size": 8, "seed": 1, "verbose": 0}}
JSON
cp run.json "$corpus/run_file/seed-small_run.json"
"$plugfit" train run.json --checkpoint dir:ckpts >/dev/null
/usr/bin/python3 "$src/tests/fuzz/pack_folder.py" ckpts "$corpus/dir/seed-two_checkpoints"
"$plugfit" train run.json --checkpoint sqlite:m.db >/dev/null
# plugfit writes 64 KiB pages; 1 KiB pages make the same database a small seed.
/usr/bin/python3 -c "
import sqlite3
c = sqlite3.connect('m.db', isolation_level=None)
c.execute('pragma journal_mode=delete'); c.execute('pragma page_size=1024'); c.execute('vacuum')"
cp m.db "$corpus/sqlite/seed-two_checkpoints.db"
"$plugfit" train run.json --checkpoint hdf5:m.h5 >/dev/null
cp m.h5 "$corpus/hdf5/seed-two_checkpoints.h5"
# Keras's layout alone: plugfit's own group left out.
/usr/bin/python3 -c "
import h5py
with h5py.File('m.h5', 'r') as src, h5py.File('keras.h5', 'w') as dst:
    for key, value in src.attrs.items(): dst.attrs[key] = value
    for key in ('model_weights', 'optimizer_weights'): src.copy(key, dst)"
cp keras.h5 "$corpus/hdf5/seed-keras_legacy.h5"
"$plugfit" convert dir:ckpts m.keras >/dev/null
cp m.keras "$corpus/keras_archive/seed-model.keras"
ls -l "$corpus"/*
