#!/usr/bin/env python3
"""NumPy peer for `kelvin bench --workload rank10000x100`: the singular values, in float64, of a
seeded 10000 x 100 float32 matrix (the size of a logits matrix: N = 10,000 test samples, C = 100
classes), as the rank diagnostic needs them. The float32 -> float64 conversion is timed, as kelvin
times its own. numpy.linalg.svd(compute_uv=False) calls LAPACK's dgesdd (OpenBLAS on Debian).
Prints `rank10000x100 X ms` (median of timed repeats after warm-up)."""
import argparse
import os
import statistics
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10000)
    p.add_argument("--cols", type=int, default=100)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    # BLAS reads its thread count when numpy loads it.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    import numpy as np

    a = np.random.default_rng(0).standard_normal((args.rows, args.cols), dtype=np.float32)
    times = []
    for i in range(args.warmup + args.repeats):
        t0 = time.perf_counter()
        s = np.linalg.svd(a.astype(np.float64), compute_uv=False)
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt * 1e3)
    rank = int(np.sum(s > 1e-3 * s[0]))
    assert rank == min(args.rows, args.cols), rank
    print(f"rank{args.rows}x{args.cols} {statistics.median(times):.3f} ms")


if __name__ == "__main__":
    main()
