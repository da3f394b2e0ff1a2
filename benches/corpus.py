#!/usr/bin/env python3
"""Writes a reproducible mixed corpus shaped as a personality: DIR/m1..m8/start plus data.

A third text (word soup from a fixed seed: compresses like logs and source), a third binaries
(this machine's /usr/bin and /usr/lib files, compress like real software), a third already-compressed
(random bytes: what jars, .gz and images look like to gzip). Usage: corpus.py DIR MIB
"""
import os
import random
import sys

out, mib = sys.argv[1], int(sys.argv[2])
total = mib << 20
rng = random.Random(2009)
words = [
    "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
    for _ in range(5000)
]
modules = [os.path.join(out, f"m{i}") for i in range(1, 9)]
for m in modules:
    os.makedirs(os.path.join(m, "data"), exist_ok=True)
    with open(os.path.join(m, "start"), "w") as f:
        f.write("#!/bin/sh\necho started\n")
    os.chmod(os.path.join(m, "start"), 0o755)

def binaries():
    for root in ("/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/lib"):
        for dirpath, _, files in os.walk(root):
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    yield path

written = {"text": 0, "bin": 0, "random": 0}
share = total // 3
n = 0
while written["text"] < share:
    line_count = 20000
    text = "\n".join(" ".join(rng.choices(words, k=12)) for _ in range(line_count)) + "\n"
    path = os.path.join(modules[n % 8], "data", f"text{n}.log")
    with open(path, "w") as f:
        f.write(text)
    written["text"] += len(text)
    n += 1
for path in binaries():
    if written["bin"] >= share:
        break
    try:
        with open(path, "rb") as f:
            data = f.read(8 << 20)
    except OSError:
        continue
    dest = os.path.join(modules[n % 8], "data", f"bin{n}")
    with open(dest, "wb") as f:
        f.write(data)
    written["bin"] += len(data)
    n += 1
while written["random"] < total - written["text"] - written["bin"]:
    data = rng.randbytes(4 << 20)
    with open(os.path.join(modules[n % 8], "data", f"packed{n}.gz"), "wb") as f:
        f.write(data)
    written["random"] += len(data)
    n += 1
print(f"corpus: {sum(written.values()) >> 20} MiB in {n} files "
      f"(text {written['text'] >> 20}, binaries {written['bin'] >> 20}, compressed {written['random'] >> 20} MiB)")
