#!/usr/bin/env python3
"""Writes CIFAR-10 files in the official binary layout (data_batch_1..5.bin, test_batch.bin:
records of 1 label byte 0-9 + 3072 pixel bytes) filled with seeded random pixels, for timing
kelvin on CIFAR-sized data where the real files are absent (the GPU machine). Not for science.
    python3 scripts/make-fake-cifar10.py OUT_DIR [records_per_file]
"""
import os
import random
import sys


def main():
    out = sys.argv[1]
    records = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    os.makedirs(out, exist_ok=True)
    rng = random.Random(0)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        with open(os.path.join(out, name), "wb") as f:
            for _ in range(records):
                f.write(bytes([rng.randrange(10)]))
                f.write(rng.randbytes(3072))
    print(f"{out}: 6 files of {records} records")


if __name__ == "__main__":
    main()
