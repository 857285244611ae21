#!/usr/bin/python3
"""Checks that two sweep folders of the same configuration hold the same results.

  compare-sweeps.py PLAIN_DIR OTHER_DIR

Used by scripts/slurm-test.sh: a sweep run by `kelvin sweep` in one process against the same
sweep run as a Slurm job array (with a preempted and requeued task). Compared:
- every runs/*/ of both, by name: model.safetensors and optimizer.safetensors byte for byte;
  metrics.json, diagnostics.json and config.json field by field, and summary.csv row by row,
  through compare-results.py's `compare`;
- summary.md, report.html and every figures/* file as text.
Left out, because they differ between any two runs of one configuration: measured durations
(seconds, train_seconds, samples_per_second; summary.md's `seconds` column), where the folder is
(config.json's "out"; the folder's path wherever a page names it, replaced by DIR) and when the
report was written (its "Generated YYYY-MM-DD HH:MM UTC" line). Nothing in these files names a
host, a process or a Slurm job.
"""
import importlib.util
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load_compare_results():
    spec = importlib.util.spec_from_file_location("compare_results",
                                                  os.path.join(HERE, "compare-results.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(path):
    with open(path, "rb") as f:
        return f.read()


def normalized_text(path, folder):
    text = read(path).decode("utf-8")
    text = text.replace(os.path.abspath(folder), "DIR")
    return re.sub(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC", "Generated (time) UTC", text)


def without_seconds_column(markdown):
    lines = markdown.splitlines()
    header = next((l for l in lines if l.startswith("| name |")), None)
    if header is None:
        return markdown
    cells = [c.strip() for c in header.strip("|").split("|")]
    if "seconds" not in cells:
        return markdown
    at = cells.index("seconds")
    out = []
    for line in lines:
        if line.startswith("|"):
            row = line.strip().strip("|").split("|")
            if len(row) == len(cells):
                del row[at]
            line = "|" + "|".join(row) + "|"
        out.append(line)
    return "\n".join(out)


def main(plain, other):
    plain, other = os.path.abspath(plain), os.path.abspath(other)
    problems = []
    if load_compare_results().compare(plain, other) != 0:
        problems.append("compare-results.py found the differences above")
    runs = sorted(os.listdir(os.path.join(plain, "runs")))
    for run in runs:
        for name in ("model.safetensors", "optimizer.safetensors"):
            a, b = os.path.join(plain, "runs", run, name), os.path.join(other, "runs", run, name)
            if not os.path.exists(b) or read(a) != read(b):
                problems.append(f"{b}: not byte for byte {a}")
    pages = ["summary.md", "report.html"]
    figures = os.path.join(plain, "figures")
    if os.path.isdir(figures):
        pages += [os.path.join("figures", f) for f in sorted(os.listdir(figures))]
    for page in pages:
        a, b = os.path.join(plain, page), os.path.join(other, page)
        if not os.path.exists(b):
            problems.append(f"{b}: missing")
            continue
        ta, tb = normalized_text(a, plain), normalized_text(b, other)
        if page == "summary.md":
            ta, tb = without_seconds_column(ta), without_seconds_column(tb)
        if ta != tb:
            problems.append(f"{b}: differs from {a} beyond time and folder")
    for p in problems:
        print(p)
    print(f"compare-sweeps: {len(problems)} problem(s); {len(runs)} runs, {len(pages)} pages "
          f"compared ({plain} vs {other})")
    return 1 if problems or not runs else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
