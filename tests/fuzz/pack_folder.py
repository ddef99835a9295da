#!/usr/bin/env python3
"""Packs a folder into one fuzz input (fuzz_support.hpp's unpack_folder reads it back):
records of [u16 name length][name][u32 size][bytes], little-endian, files in sorted order.
Usage: pack_folder.py FOLDER OUT"""
import os
import struct
import sys

folder, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as f:
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder).encode()
            data = open(path, "rb").read()
            f.write(struct.pack("<H", len(rel)) + rel + struct.pack("<I", len(data)) + data)
