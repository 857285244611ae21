#!/usr/bin/env python3
"""The Markdown tables of docs/REPRODUCTION.md from a sweep folder's summary_by_cell.csv and
claims.json: one row per cell (mean [95% t interval] over seeds), then one row per claim.

    python3 scripts/reproduction-tables.py runs/demo5 --by temperature
    python3 scripts/reproduction-tables.py runs/heads5 --by head_norm,temperature

Only the standard library; every number is copied from the two files, formatted to 3
significant figures.
"""
import argparse
import csv
import json
import math
import os
import sys

COLUMNS = [  # (header, result name; {ood} is the sweep's first OOD set)
    ("test acc", "test_acc"),
    ("rank(M)", "rank_logits"),
    ("rank(softmax)", "rank_softmax"),
    ("logits norm", "logits_norm"),
    ("last-layer feature rank", "rank_probe_last"),
    ("κ", "kappa"),
    ("ρ", "rho/{ood}"),
    ("NECO AUROC", "neco_auroc/{ood}"),
    ("MSP AUROC", "msp_auroc/{ood}"),
    ("OrthoDev", "orthodev/{ood}"),
]


def number(text):
    if text in ("", None):
        return None
    v = float(text)
    return None if math.isnan(v) else v


def fmt(v):
    if v is None:
        return "-"
    if v != 0 and (abs(v) >= 1000 or abs(v) < 0.01):
        return "%.3g" % v
    return "%.3g" % v if abs(v) >= 1 else "%.3f" % v


def cell_table(rows, by, ood):
    columns = [(h, r.format(ood=ood)) for h, r in COLUMNS]
    columns = [(h, r) for h, r in columns if ("mean(%s)" % r) in rows[0]]
    out = ["| " + " | ".join(by + ["n"] + [h for h, _ in columns]) + " |",
           "|" + "---|" * (len(by) + 1 + len(columns))]
    for row in rows:
        n = row.get("n(test_acc)") or row.get("seeds", "")
        fields = [row[b] for b in by] + [n]
        for _, r in columns:
            mean, low, high = (number(row.get("%s(%s)" % (k, r))) for k in ("mean", "ci95_low", "ci95_high"))
            fields.append(fmt(mean) if low is None else "%s [%s, %s]" % (fmt(mean), fmt(low), fmt(high)))
        out.append("| " + " | ".join(fields) + " |")
    return "\n".join(out)


def claims_table(claims):
    out = ["| # | claim | verdict | effect [95% interval] | p (claimed direction) | p (opposite) | seeds (needed) | note |",
           "|---|---|---|---|---|---|---|---|"]
    for c in claims["claims"]:
        tested = [t for t in c["tests"] if t["verdict"] != "not testable"]
        effects = []
        for t in tested:
            e = t["effect"]
            if e["estimate"] is None:
                continue
            label = (t["result"] + " ") if len(tested) > 1 else ""
            effects.append("%s%s [%s, %s]" % (label, fmt(e["estimate"]), fmt(e["low"]), fmt(e["high"])))
        seeds = "-"
        if c["tests"] and c["min_seeds"]:
            seeds = "%d (%d)" % (c["tests"][0]["seeds"], c["min_seeds"])
        p = "-" if c["p_value"] is None else "%.2g" % c["p_value"]
        q = "-" if c["p_opposite"] is None else "%.2g" % c["p_opposite"]
        note = c.get("reason", "") or ""
        out.append("| %d | %s | **%s** | %s | %s | %s | %s | %s |" % (
            c["number"], c["statement"], c["verdict"], "; ".join(effects), p, q, seeds, note))
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="a sweep folder (summary_by_cell.csv, claims.json)")
    parser.add_argument("--by", default="temperature",
                        help="the cell columns to show, comma-separated (temperature, init_scale, head_norm)")
    args = parser.parse_args()
    by = args.by.split(",")
    path = os.path.join(args.dir, "summary_by_cell.csv")
    if not os.path.exists(path):
        sys.exit("reproduction-tables: %s not found (run kelvin report %s first)" % (path, args.dir))
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit("reproduction-tables: %s has no cells" % path)
    ood = ""
    for key in rows[0]:
        if key.startswith("mean(rho/"):
            ood = key[len("mean(rho/"):-1]
            break
    print(cell_table(rows, by, ood))
    print()
    with open(os.path.join(args.dir, "claims.json")) as f:
        print(claims_table(json.load(f)))


if __name__ == "__main__":
    main()
