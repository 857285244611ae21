#!/usr/bin/python3
"""Runs a small fixed sweep, or compares the result trees of two such runs.

  compare-results.py run KELVIN_BINARY OUT_DIR   # a 2 x 2 MLP sweep, about 1-2 minutes on 2 cores
  compare-results.py compare BEFORE_DIR AFTER_DIR

`compare` checks summary.csv and every runs/*/diagnostics.json, metrics.json and config.json of
the two trees field by field. Timings (seconds, samples_per_second) differ between any two runs
and are skipped; fields renamed on purpose are mapped through RENAMES first (old name -> new
name), so a redesign that must not change behaviour can show that it did not.
"""
import csv
import json
import os
import subprocess
import sys

# The fixed sweep: every code path the demo takes (training, tracking, diagnostics, probes, OOD,
# report), at a size that takes a minute or two.
SWEEP = {
    "models": ["mlp"],
    "datasets": ["fashion-mnist:classes=0-4"],
    "ood": ["fashion-mnist:classes=5-9"],
    "temperatures": [0.5, 10],
    "head_norms": ["none", "layernorm"],
    "seeds": [1],
    "epochs": 2,
    "batch_size": 128,
    "optimizer": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "depth": 3,
    "width": 128,
    "train_subset": 3000,
    "samples": 1000,
    "probe_train_samples": 1000,
    "track_every": 10,
    "crop_padding": 1,
    "flip": True,
    "device": "cpu",
}

# Fields this redesign renames (issue 10): path in the JSON file -> its new path.
RENAMES = {
    "config.json": {"horizontal_flip": "flip"},
    "sweep.json": {"training/horizontal_flip": "training/flip"},
}

# Float32 settings that issue 10 prints as typed (0.001, not 0.0010000000474974513): the same
# float32 value, other digits.
FLOAT32_PRINTED = {"diagnostics.json": {"temperature", "settings/probe/lr"}}

# Measured durations: never equal between two runs.
TIMING_KEYS = {"seconds", "train_seconds", "samples_per_second"}
# Where a run directory is: differs between two trees by construction.
PATH_KEYS = {"out"}


def run(binary, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    config = os.path.join(out_dir, "compare-sweep.json")
    with open(config, "w") as f:
        json.dump(SWEEP, f, indent=2)
    subprocess.run([binary, "sweep", "--config", config, "--out", out_dir], check=True)


def flatten(value, prefix=""):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}/{k}" if prefix else k))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out if out else {prefix: value}
    return {prefix: value}


def skipped(path):
    leaf = path.split("/")[-1].split("[")[0]
    return leaf in TIMING_KEYS or path in PATH_KEYS


def renamed(flat, renames):
    out = {}
    for path, v in flat.items():
        for old, new in renames.items():
            if path == old or path.startswith(old + "/"):
                path = new + path[len(old):]
        out[path] = v
    return out


def close(a, b):
    # Floats go through one text round trip in each tree; only a float32 value stored as double
    # may differ in its printed digits, never in its float32 value.
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        import struct
        f = lambda x: struct.unpack("f", struct.pack("f", x))[0]
        return a == b or f(a) == f(b)
    return a == b


def compare_json(name, before_path, after_path, problems, float32_ok):
    with open(before_path) as f:
        before = renamed(flatten(json.load(f)), RENAMES.get(name, {}))
    with open(after_path) as f:
        after = flatten(json.load(f))
    for path in sorted(set(before) | set(after)):
        if skipped(path):
            continue
        a, b = before.get(path, "<absent>"), after.get(path, "<absent>")
        loose = float32_ok or path in FLOAT32_PRINTED.get(name, set())
        same = close(a, b) if loose else a == b
        if not same:
            problems.append(f"{after_path}: {path}: {a!r} -> {b!r}")


def compare_csv(before_path, after_path, problems):
    with open(before_path) as f:
        before = list(csv.DictReader(f))
    with open(after_path) as f:
        after = list(csv.DictReader(f))
    if len(before) != len(after):
        problems.append(f"{after_path}: {len(before)} rows -> {len(after)} rows")
    for i, (a, b) in enumerate(zip(before, after)):
        for key in sorted(set(a) | set(b)):
            if key in TIMING_KEYS:
                continue
            if key in ("temperature", "init_scale") and a.get(key) and b.get(key) and \
                    close(float(a[key]), float(b[key])):
                continue  # the same float32 setting, printed as typed (issue 10)
            if a.get(key) != b.get(key):
                problems.append(f"{after_path}: row {i} {key}: {a.get(key)!r} -> {b.get(key)!r}")


def compare(before_dir, after_dir):
    problems = []
    compare_csv(os.path.join(before_dir, "summary.csv"), os.path.join(after_dir, "summary.csv"),
                problems)
    runs_before = sorted(os.listdir(os.path.join(before_dir, "runs")))
    runs_after = sorted(os.listdir(os.path.join(after_dir, "runs")))
    if runs_before != runs_after:
        problems.append(f"run directories differ: {runs_before} -> {runs_after}")
    for run_name in sorted(set(runs_before) & set(runs_after)):
        # diagnostics.json and metrics.json must be identical; config.json may show a float32
        # setting (lr 0.05) as the number the user gave instead of its float32 expansion, and
        # so may diagnostics.json's temperature and settings/probe/lr (FLOAT32_PRINTED).
        for name, float32_ok in (("diagnostics.json", False), ("metrics.json", False),
                                 ("config.json", True)):
            a = os.path.join(before_dir, "runs", run_name, name)
            b = os.path.join(after_dir, "runs", run_name, name)
            if os.path.exists(a) != os.path.exists(b):
                problems.append(f"{b}: present before {os.path.exists(a)}, after {os.path.exists(b)}")
            elif os.path.exists(a):
                compare_json(name, a, b, problems, float32_ok)
    compare_json("sweep.json", os.path.join(before_dir, "sweep.json"),
                 os.path.join(after_dir, "sweep.json"), problems, True)
    for p in problems:
        print(p)
    print(f"compare-results: {len(problems)} difference(s) between {before_dir} and {after_dir}"
          f" ({len(runs_after)} runs)")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        print(__doc__)
        sys.exit(2)
