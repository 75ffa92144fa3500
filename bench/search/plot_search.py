#!/usr/bin/python3
"""Draws the PNG of `alphax bench search` from the CSV files it wrote.

usage: /usr/bin/python3 bench/search/plot_search.py DIR

Reads DIR/mean_curves.csv (mean regret after k unique samples) and DIR/runs.csv (samples to
the best per run) and writes DIR/mean_curves.png: per worker count, the mean regret curves
(top) and the fraction of runs that have found the table's best (bottom), one line per strategy.
"""
import csv
import math
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main(directory):
    curves = defaultdict(lambda: ([], []))
    for row in read_rows(os.path.join(directory, "mean_curves.csv")):
        xs, ys = curves[(row["strategy"], int(row["workers"]))]
        xs.append(int(row["sample"]))
        ys.append(float(row["mean_regret"]))
    found = defaultdict(list)
    budgets = {}
    for row in read_rows(os.path.join(directory, "runs.csv")):
        key = (row["strategy"], int(row["workers"]))
        found[key].append(int(row["samples_to_best"]) if row["samples_to_best"] else math.inf)
        budgets[key] = int(row["budget"])
    if not curves:
        sys.exit(f"plot_search.py: {directory}/mean_curves.csv has no rows")

    workers = sorted({w for _, w in curves})
    strategies = list(dict.fromkeys(s for s, _ in curves))
    colours = {s: plt.cm.tab10(i % 10) for i, s in enumerate(strategies)}
    fig, axes = plt.subplots(2, len(workers), figsize=(6.5 * len(workers), 8.5), squeeze=False, sharex=True)
    for column, w in enumerate(workers):
        top, bottom = axes[0][column], axes[1][column]
        for s in strategies:
            if (s, w) not in curves:
                continue
            xs, ys = curves[(s, w)]
            top.plot(xs, ys, label=s, color=colours[s], linewidth=1.6)
            hits = sorted(found[(s, w)])
            n = len(hits)
            limit = budgets[(s, w)]
            steps = [k for k in hits if k != math.inf]
            bottom.step([1] + steps + [limit], [0] + [(i + 1) / n for i in range(len(steps))] + [len(steps) / n],
                        where="post", color=colours[s], label=s, linewidth=1.6)
        top.set_xscale("log")
        top.set_yscale("symlog", linthresh=0.05)  # zero regret stays drawable
        top.set_ylim(bottom=0.0)
        top.set_title(f"{w} worker{'s' if w > 1 else ''} in flight")
        top.set_ylabel("mean regret (report column)")
        top.grid(True, which="both", alpha=0.3)
        top.legend(fontsize=8)
        bottom.set_xscale("log")
        bottom.set_xlabel("unique samples")
        bottom.set_ylabel("fraction of runs that found the best")
        bottom.set_ylim(0, 1.02)
        bottom.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out = os.path.join(directory, "mean_curves.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: plot_search.py DIR (the --out directory of `alphax bench search`)")
    main(sys.argv[1])
