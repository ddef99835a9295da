#!/usr/bin/python3
"""Makes damaged and edited copies of TensorFlow checkpoints for the tf: tests.

Reads with tf_reference.py's independent readers and writes a tensor bundle's .index back as a
LevelDB table (one data block, every key whole, one restart point; an empty metaindex block; the
footer), each block with its masked CRC-32C trailer, so that only the damage asked for is there.

  tf_writer.py flip FILE OFFSET             xor the byte at OFFSET (negative: from the end) with 0xff
  tf_writer.py truncate FILE SIZE           cut FILE to SIZE bytes
  tf_writer.py past PREFIX KEY              KEY's index entry points 16 bytes past the end of its shard
  tf_writer.py bias PREFIX KEY DELTA        add DELTA to every float32 of KEY, its CRC recomputed
  tf_writer.py dtype PREFIX KEY DTYPE       KEY's index entry claims DataType DTYPE (its size kept)
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tf_reference as ref  # noqa: E402


def put_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_field(num, wt, val):
    key = put_varint((num << 3) | wt)
    if wt == 0:
        return key + put_varint(val)
    if wt == 1:
        return key + struct.pack("<Q", val)
    if wt == 2:
        return key + put_varint(len(val)) + val
    return key + struct.pack("<I", val)


def edit_message(buf, replace):
    """buf with the top-level fields in `replace` ({number: (wire type, value)}) set."""
    out, seen = b"", set()
    for num, wt, val in ref.fields(buf):
        if num in replace:
            seen.add(num)
            out += encode_field(num, *replace[num])
        else:
            out += encode_field(num, wt, val)
    for num, (wt, val) in replace.items():
        if num not in seen:
            out += encode_field(num, wt, val)
    return out


def block(entries):
    body = b""
    for k, v in entries:
        body += put_varint(0) + put_varint(len(k)) + put_varint(len(v)) + k + v
    body += struct.pack("<I", 0) + struct.pack("<I", 1)  # one restart point, at 0
    return body


def write_table(path, table):
    """table: {str key: bytes value}; keys sorted as LevelDB's bytewise comparator sorts them."""
    items = sorted((k.encode(), v) for k, v in table.items())
    out = b""

    def add(contents):
        nonlocal out
        handle = put_varint(len(out)) + put_varint(len(contents))
        out += contents + b"\x00" + struct.pack("<I", ref.mask(ref.crc32c(contents + b"\x00")))
        return handle

    data = add(block(items))
    meta = add(block([]))
    index = add(block([(items[-1][0], data)]))
    footer = meta + index
    footer += b"\x00" * (40 - len(footer)) + struct.pack("<Q", 0xDB4775248B80FB57)
    with open(path, "wb") as f:
        f.write(out + footer)


def raw_table(prefix):
    return ref.read_table(prefix + ".index")


def main():
    cmd = sys.argv[1]
    if cmd == "flip":
        path, offset = sys.argv[2], int(sys.argv[3])
        data = bytearray(open(path, "rb").read())
        data[offset] ^= 0xFF
        open(path, "wb").write(bytes(data))
    elif cmd == "truncate":
        os.truncate(sys.argv[2], int(sys.argv[3]))
    elif cmd in ("past", "dtype"):
        prefix, key = sys.argv[2], sys.argv[3]
        table = raw_table(prefix)
        if cmd == "past":
            shard = "%s.data-00000-of-00001" % prefix
            table[key] = edit_message(table[key], {4: (0, os.path.getsize(shard) + 16)})
        else:
            table[key] = edit_message(table[key], {1: (0, int(sys.argv[4]))})
        write_table(prefix + ".index", table)
    elif cmd == "bias":
        prefix, key, delta = sys.argv[2], sys.argv[3], float(sys.argv[4])
        table = raw_table(prefix)
        e = ref.entry(table[key])
        shard = "%s.data-%05d-of-00001" % (prefix, e["shard"])
        data = bytearray(open(shard, "rb").read())
        import numpy as np
        values = np.frombuffer(bytes(data[e["offset"]:e["offset"] + e["size"]]), "<f4") + np.float32(delta)
        raw = values.astype("<f4").tobytes()
        data[e["offset"]:e["offset"] + e["size"]] = raw
        open(shard, "wb").write(bytes(data))
        table[key] = edit_message(table[key], {6: (5, ref.mask(ref.crc32c(raw)))})
        write_table(prefix + ".index", table)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
