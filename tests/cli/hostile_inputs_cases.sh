#!/usr/bin/env bash
# Hostile inputs outside HDF5 (issue 15): headers and configs that ask for more memory than any
# file could hold, checkpoint filepaths that leave their folder after a scheme, and the README's
# own checkpoint-manager object. Each is refused in one sentence, exit 2, under a memory limit far
# below what the header asks for (so nothing was allocated first). mutated_inputs samples
# mutations of every format and checks the form of each rejection (mutated_inputs.py).
# Usage: hostile_inputs_cases.sh PLUGFIT SOURCE_ROOT CASE
source "$(dirname "$0")/lib.sh"

# run_json EXTRA: a small run on synthetic data, EXTRA appended to its top-level object.
run_json() {
  cat >run.json <<JSON
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
 "data": {"train": "synthetic:samples=64,features=5,classes=3"},
 "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
 "fit": {"epochs": 2, "batch_size": 16, "seed": 3, "verbose": 0}$1}
JSON
}

# bounded COMMAND...: COMMAND with 1 GiB of address space beyond what plugfit needs to start.
bounded() { (ulimit -v 3000000; "$@"); }

case "$case_name" in
  hostile_npy_header)
    # 12 bytes: version 2.0 with a header length of 0xFFFFFFFF (4 GiB were allocated and zeroed).
    printf '\x93NUMPY\x02\x00\xff\xff\xff\xff' >x.npy
    run_json ''
    "$plugfit" train run.json --checkpoint dir:ck >/dev/null || fail "training the model"
    expect_error 2 "^plugfit: error: NPY file x.npy declares a header of 4294967295 bytes" \
      bounded "$plugfit" predict dir:ck --input x.npy --output y.npy
    # A zero dimension beside 2^32-sized ones (xtensor's strides overflowed).
    py -c "
h = \"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }\"
h = h.ljust(117) + '\n'
open('z.npy', 'wb').write(b'\x93NUMPY\x01\x00' + len(h).to_bytes(2, 'little') + h.encode())"
    expect_error 2 "^plugfit: error: NPY file z.npy has the shape \(0, 4294967296, 4294967296\), more than the limit of 1073741824 elements per tensor \(PLUGFIT_MAX_TENSOR_ELEMENTS raises it\)$" \
      bounded "$plugfit" predict dir:ck --input z.npy --output y.npy
    ;;
  hostile_idx_dims)
    # A 20-byte IDX file declaring 2^32 x 2^32 x 2^32 bytes, and one declaring 1 GB.
    printf '\x00\x00\x08\x04\x00\x00\x00\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff' >huge-images.idx
    printf '\x00\x00\x08\x03\x00\x00\x03\xe8\x00\x00\x03\xe8\x00\x00\x03\xe8' >gb-images.idx
    printf '\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02' >labels.idx
    run_json ''
    sed -i 's|"synthetic:samples=64,features=5,classes=3"|"idx:huge-images.idx,labels.idx"|' run.json
    expect_error 2 "^plugfit: error: .*IDX file .*huge-images.idx has the shape \(2, 4294967295, 4294967295, 4294967295\), more than the limit" \
      bounded "$plugfit" train run.json
    sed -i 's|huge-images.idx|gb-images.idx|' run.json
    expect_error 2 "^plugfit: error: .*IDX file .*gb-images.idx declares dimensions .* \(1000000000 bytes\), more than its 16 bytes can hold even compressed$" \
      bounded "$plugfit" train run.json
    ;;
  hostile_model_config)
    # A Dense of 200,000 units on 183,000 features: 146 GB of weights. Refused, naming the layer.
    cat >run.json <<'JSON'
{"model": {"layers": [{"class_name": "Dense", "config": {"units": 200000, "input_shape": [183000]}}]},
 "data": {"train": "synthetic:samples=4,features=183000,classes=3"},
 "compile": {"optimizer": "adam", "loss": "mse"}, "fit": {"epochs": 1, "batch_size": 4, "verbose": 0}}
JSON
    expect_error 2 "^plugfit: error: run.json: the layer dense's weight \"kernel\" has the shape \(183000, 200000\), more than the limit of 1073741824 elements per tensor" \
      bounded "$plugfit" train run.json
    # The limit is stated and can be lowered (or raised) by the user.
    run_json ''
    PLUGFIT_MAX_TENSOR_ELEMENTS=10 expect_error 2 "weight \"kernel\" has the shape \(5, 3\), more than the limit of 10 elements" \
      "$plugfit" train run.json
    PLUGFIT_MAX_TENSOR_ELEMENTS=-1 expect_error 2 "PLUGFIT_MAX_TENSOR_ELEMENTS must be a positive integer, got \"-1\"" \
      "$plugfit" train run.json
    ;;
  hostile_checkpoint_filepath)
    # '..' right after a scheme got past the check: each of these wrote outside the folder.
    mkdir inside && cd inside || fail "mkdir"
    for filepath in "dir:../x/best" "hdf5:../x.h5" "sqlite:../m.db/best" "dir:a/../../b/c"; do
      run_json ', "callbacks": [{"class_name": "ModelCheckpoint", "config": {"filepath": "'"$filepath"'"}}]'
      expect_error 2 "^plugfit: error: run.json: ModelCheckpoint: the filepath \"$filepath\" would write outside the checkpoint folder" \
        "$plugfit" train run.json
    done
    [ -z "$(ls -A ..| grep -v '^inside$')" ] || fail "something was written outside: $(ls -A ..)"
    ;;
  readme_manager_nulls)
    # The checkpoint-manager object exactly as the README shows it (null options) trains.
    object=$(py -c "
import re, sys
text = open(sys.argv[1]).read()
print(re.search(r'\`(\{\"uri\": \"dir:ckpts\", \"max_to_keep\"[^\`]*)\`', text).group(1).replace('\n', ' '))" "$root/README.md") ||
      fail "the README lost its example"
    echo "the README's object: $object"
    run_json ", \"checkpoint\": $object"
    sed -i 's|"data": {|"data": {"validation": "synthetic:samples=32,features=5,classes=3,seed=9", |' run.json
    "$plugfit" train run.json || fail "the README's manager options with nulls were refused"
    [ -f ckpts/index.json ] || fail "no checkpoint was written"
    ;;
  mutated_inputs)
    # Seeds of every format mutated as a fuzzer would: each rejection is one sentence naming its input.
    py "$root/tests/cli/mutated_inputs.py" "$plugfit" "$root" 40 || fail "a mutated input ended badly"
    ;;
  *) fail "unknown case $case_name" ;;
esac
echo "ok"
