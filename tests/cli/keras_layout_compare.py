#!/usr/bin/python3
"""Each Keras format plugfit writes against the real Keras file of that format, member by member.

usage: keras_layout_compare.py KERAS_WRITE_SAMPLE KERAS_FILES_DIR
       keras_layout_compare.py --files KERAS_FILES_DIR FILE...

Runs the writer into a temporary folder (or takes files plugfit wrote, each compared with the
real file of the format its name ends in: .keras, .weights.h5, else legacy .h5), then compares
with h5py and zipfile: HDF5 groups,
datasets (dtype, rank) and attributes (dtype kind, shape, variable vs fixed length, character
set), the JSON key sets of model_config / training_config / config.json / metadata.json, and the
zip's member names, order, compression and attributes. Names (layers, model), counts of layers
or slots, numbers and dates may differ; the /plugfit group is plugfit's own. Exits 77 when the
real files are absent.
"""
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

import h5py

REAL = {
    "model.h5": "keras3_churn_full_model.h5",
    "model.weights.h5": "h10_keras3_wo_churn.weights.h5",
    "model.keras": "w03_AdityaB2731_model.keras",
}
# Keys whose values Keras writes in more than one form (a loss given as an object or a name) or
# that only object sharing adds (a shared DTypePolicy's id): not part of the layout.
LOOSE = [re.compile(p) for p in (r"(^|\.)loss\.", r"\.shared_object_id$")]


def attr_form(obj, name):
    aid = h5py.h5a.open(obj.id, name.encode())
    t, space = aid.get_type(), aid.get_space()
    form = [t.get_class(), space.get_simple_extent_type(), space.get_simple_extent_ndims()]
    if t.get_class() == h5py.h5t.STRING:
        form += [t.is_variable_str(), t.get_cset()]
    else:
        form += [t.get_size()]
    return tuple(form)


def names_of(f):
    """Layer and model names, mapped to placeholders so files of different models compare."""
    names = {}
    if "model_weights" in f:
        for layer in f["model_weights"].attrs["layer_names"]:
            names[layer if isinstance(layer, str) else layer.decode()] = "<layer>"
    if "layers" in f:
        for layer in f["layers"]:
            names[layer] = "<layer>"
    if "vars" in f:
        names[f["vars"].attrs["name"]] = "<model>"
    if "model_config" in f.attrs:
        names[json.loads(f.attrs["model_config"])["config"]["name"]] = "<model>"
    return names


def normalize(path, names):
    parts = []
    for part in path.split("/"):
        for name, placeholder in sorted(names.items(), key=lambda kv: -len(kv[0])):
            if part == name:
                part = placeholder
            part = part.replace(name + "_", placeholder + "_")
        parts.append(part)
    out = "/".join(parts)
    out = re.sub(r"optimizer/vars/([2-9]|\d\d+)$", "optimizer/vars/<slot>", out)
    return out


def h5_layout(f):
    names = names_of(f)
    members = set()

    def add(path, obj):
        if path.startswith("plugfit"):
            return
        p = normalize(path, names)
        if isinstance(obj, h5py.Dataset):
            members.add((p, "dataset", obj.dtype.str, len(obj.shape)))
        else:
            members.add((p, "group"))
        for a in obj.attrs:
            members.add((p, "@" + a, attr_form(obj, a)))

    for a in f.attrs:
        members.add(("/", "@" + a, attr_form(f, a)))
    f.visititems(add)
    return members


def key_paths(value, prefix=""):
    out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            p = prefix + "." + k if prefix else k
            out.add(p)
            out |= key_paths(v, p)
    elif isinstance(value, list):
        for item in value:
            tag = item.get("class_name", "") if isinstance(item, dict) else ""
            out |= key_paths(item, prefix + "[" + tag + "]")
    return {p for p in out if not any(r.search(p) for r in LOOSE)}


def key_orders(value, prefix=""):
    """Each object's keys in order (Keras writes Python dicts: the order is part of its text)."""
    out = {}
    if isinstance(value, dict):
        out[prefix] = [k for k in value if not any(r.search(prefix + "." + k) for r in LOOSE)]
        for k, v in value.items():
            out.update(key_orders(v, prefix + "." + k if prefix else k))
    elif isinstance(value, list):
        for item in value:
            tag = item.get("class_name", "") if isinstance(item, dict) else ""
            out.update(key_orders(item, prefix + "[" + tag + "]"))
    return out


def order_compare(label, ours, theirs, failures):
    a, b = key_orders(ours), key_orders(theirs)
    for path in sorted(set(a) & set(b)):
        if a[path] != b[path]:
            failures.append(f"{label}: the keys of {path or 'the top level'} are in the order {a[path]}, Keras's {b[path]}")


def compare(label, ours, theirs, failures):
    for missing in sorted(map(str, theirs - ours)):
        failures.append(f"{label}: plugfit's file lacks {missing}")
    for extra in sorted(map(str, ours - theirs)):
        failures.append(f"{label}: plugfit's file has {extra}, the Keras file does not")


def classes(config):
    return {layer["class_name"] for layer in config["config"]["layers"]}


def json_compare(label, ours, theirs, failures):
    # Only the layer classes both models have: the real models have other layers.
    common = classes(ours) & classes(theirs)
    keep = lambda c: {**c, "config": {**c["config"], "layers": [l for l in c["config"]["layers"] if l["class_name"] in common]}}
    compare(label, key_paths(keep(ours)), key_paths(keep(theirs)), failures)
    order_compare(label, keep(ours), keep(theirs), failures)


def h5_compare(label, ours_file, theirs_file, failures, skip_optimizer=False):
    theirs = h5_layout(theirs_file)
    if skip_optimizer:
        theirs = {m for m in theirs if not m[0].startswith("optimizer")}
    compare(label, h5_layout(ours_file), theirs, failures)
    for attr in ("model_config", "training_config"):
        if attr in theirs_file.attrs:
            a, b = json.loads(ours_file.attrs[attr]), json.loads(theirs_file.attrs[attr])
            if attr == "model_config":
                json_compare(label + " " + attr, a, b, failures)
            else:
                compare(label + " " + attr, key_paths(a), key_paths(b), failures)
                order_compare(label + " " + attr, a, b, failures)


def zip_compare(ours_path, theirs_path, failures):
    with zipfile.ZipFile(ours_path) as ours, zipfile.ZipFile(theirs_path) as theirs:
        form = lambda i: (i.filename, i.compress_type, i.create_system, i.external_attr, i.flag_bits, i.extra)
        a, b = [form(i) for i in ours.infolist()], [form(i) for i in theirs.infolist()]
        if a != b:
            failures.append(f"model.keras: zip members {a} differ from the Keras file's {b}")
        # libzip writes the versions ZIP needs (made by 6.3, 1.0 to extract a stored member);
        # Python's zipfile writes 2.0 for both. Every zip reader accepts either: reported only.
        versions = lambda z: sorted({(i.create_version, i.extract_version) for i in z.infolist()})
        if versions(ours) != versions(theirs):
            print(f"known: model.keras zip versions (made by, to extract) {versions(ours)}, Keras's {versions(theirs)}")
        for info in ours.infolist():
            if info.filename.endswith(".json") and info.date_time != (1980, 1, 1, 0, 0, 0):
                failures.append(f"model.keras: {info.filename} is dated {info.date_time}, zipfile's default is 1980-01-01")
        meta = [json.loads(z.read("metadata.json")) for z in (ours, theirs)]
        compare("model.keras metadata.json", key_paths(meta[0]), key_paths(meta[1]), failures)
        order_compare("model.keras metadata.json", meta[0], meta[1], failures)
        if not re.fullmatch(r"\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d", meta[0]["date_saved"]):
            failures.append(f"model.keras: date_saved {meta[0]['date_saved']!r} is not Keras's %Y-%m-%d@%H:%M:%S")
        config = [json.loads(z.read("config.json")) for z in (ours, theirs)]
        json_compare("model.keras config.json", config[0], config[1], failures)
        h5 = [h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") for z in (ours, theirs)]
        h5_compare("model.keras model.weights.h5", h5[0], h5[1], failures)
        if "plugfit" not in h5[0]:
            failures.append("model.keras: model.weights.h5 has no plugfit group")


def keras_reads(legacy_path, weights_path, failures):
    """The values as Keras's two loaders find them agree bit for bit: the legacy loader by
    layer_names and weight_names, Keras 3's by layers/<name>/vars/<i> and optimizer/vars/<i>."""
    with h5py.File(legacy_path, "r") as legacy, h5py.File(weights_path, "r") as weights:
        group = legacy["model_weights"]
        by_names = []
        for layer in group.attrs["layer_names"]:
            names = group[layer].attrs["weight_names"]
            values = [group[layer][n][()] for n in names]
            vars_group = weights["layers"][layer]["vars"]
            positional = [vars_group[str(i)][()] for i in range(len(vars_group))]
            if len(values) != len(positional) or any(a.tobytes() != b.tobytes() for a, b in zip(values, positional)):
                failures.append(f"layer {layer}: the legacy file's weights differ from the .weights.h5 file's")
            by_names += values
        opt_names = legacy["optimizer_weights"].attrs["weight_names"]
        legacy_opt = [legacy["optimizer_weights"][n][()] for n in opt_names]
        opt_vars = weights["optimizer/vars"]
        keras3_opt = [opt_vars[str(i)][()] for i in range(len(opt_vars))]
        if len(legacy_opt) != len(keras3_opt) or any(
            a.tobytes() != b.tobytes() or a.dtype != b.dtype for a, b in zip(legacy_opt, keras3_opt)
        ):
            failures.append("the legacy file's optimizer_weights differ from the .weights.h5 file's optimizer/vars")


def compare_file(ours_path, real_dir, failures):
    """One file plugfit wrote against the real file of its format."""
    ours = "model.keras" if ours_path.endswith(".keras") else (
        "model.weights.h5" if ours_path.endswith(".weights.h5") else "model.h5")
    theirs_path = os.path.join(real_dir, REAL[ours])
    if ours.endswith(".keras"):
        zip_compare(ours_path, theirs_path, failures)
        return
    with h5py.File(ours_path, "r") as a, h5py.File(theirs_path, "r") as b:
        if "plugfit" not in a:
            failures.append(f"{ours_path} has no plugfit group")
            return
        # A weights-only record (ModelCheckpoint's save_weights_only) holds no optimizer state:
        # compared with the real file less its optimizer, everything else must match.
        weights_only = json.loads(a["plugfit"].attrs["info"]).get("kind") == "weights"
        h5_compare(os.path.basename(ours_path), a, b, failures, skip_optimizer=weights_only)


def main():
    files_mode = sys.argv[1] == "--files"
    real_dir = sys.argv[2]
    if not all(os.path.isfile(os.path.join(real_dir, f)) for f in REAL.values()):
        print(f"skipped: the real Keras files are not in {real_dir}")
        return 77
    failures = []
    if files_mode:
        for path in sys.argv[3:]:
            compare_file(path, real_dir, failures)
        for f in failures:
            print(f)
        print(f"{len(failures)} difference(s) from Keras's layouts in {len(sys.argv) - 3} file(s)")
        return 1 if failures else 0
    writer = sys.argv[1]
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([writer, out], check=True)
        for ours in REAL:
            compare_file(os.path.join(out, ours), real_dir, failures)
        keras_reads(os.path.join(out, "model.h5"), os.path.join(out, "model.weights.h5"), failures)
    for f in failures:
        print(f)
    print(f"{len(failures)} difference(s) from Keras's layouts")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
