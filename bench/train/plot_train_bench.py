#!/usr/bin/python3
"""Draws the PNG of an `alphax bench train` output directory (called by the command itself).

    /usr/bin/python3 bench/train/plot_train_bench.py DIR

DIR/summary.csv decides the kind: `optimizer` column -> curves.png (validation accuracy against
training seconds and epochs, one line per run, the target dashed); `scaling` column ->
scaling.png (final accuracy against the global batch per rule, and the curves per batch);
<part>-seed<S>.csv of the parts scratch/transfer/half -> transfer.png (accuracy with transfer, the
short control and the full training at other seeds against the full training from scratch).
"""
import csv
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def column(rows, key):
    return [float(r[key]) for r in rows]


def plot_optimizers(out, summary):
    names = [r["optimizer"] for r in summary]
    colours = dict(zip(names, ["tab:blue", "tab:red", "tab:green", "tab:purple"]))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for name in names:
        for i, path in enumerate(sorted(glob.glob(os.path.join(out, "runs", f"{name}-seed*.csv")))):
            rows = read(path)
            label = name if i == 0 else None
            axes[0].plot(column(rows, "train_seconds"), column(rows, "validation_accuracy"), color=colours[name],
                         alpha=0.6, lw=1, label=label)
            axes[1].plot(column(rows, "epoch"), column(rows, "validation_accuracy"), color=colours[name], alpha=0.6,
                         lw=1, label=label)
    target = target_of(out)
    for ax, xlabel in zip(axes, ["training seconds (validation excluded)", "epochs"]):
        if target is not None:
            ax.axhline(target, color="k", ls="--", lw=0.8, label=f"target {target:g} %")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("validation accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        low = min(column(summary, "final_accuracy_mean")) - 8
        ax.set_ylim(max(0, low), None)
    fig.suptitle("SGD vs ISGD: " + ", ".join(
        f"{r['optimizer']} {float(r['seconds_to_target_mean']):.1f} s / {float(r['epochs_to_target_mean']):.2f} epochs "
        f"to target ({r['reached']}/{r['seeds']} runs)" for r in summary))
    fig.tight_layout()
    fig.savefig(os.path.join(out, "curves.png"), dpi=110)


def target_of(out):
    path = os.path.join(out, "target.txt")
    if os.path.exists(path):
        with open(path) as f:
            return float(f.read().strip())
    return None


def plot_scaling(out, summary):
    rules = sorted({r["scaling"] for r in summary})
    batches = sorted({int(r["batch"]) for r in summary})
    fig, axes = plt.subplots(1, 1 + len(batches), figsize=(4.5 * (1 + len(batches)), 4.2))
    colours = {"linear": "tab:blue", "legw": "tab:red", "none": "tab:gray"}
    for rule in rules:
        rows = [r for r in summary if r["scaling"] == rule]
        axes[0].errorbar([int(r["batch"]) for r in rows], column(rows, "final_accuracy_mean"),
                         yerr=[float(r["final_accuracy_std"]) if r["final_accuracy_std"] != "nan" else 0 for r in rows],
                         marker="o", capsize=3, label=rule, color=colours.get(rule, "k"))
    axes[0].set_xscale("log", base=2)
    axes[0].set_xlabel("global batch")
    axes[0].set_ylabel("final validation accuracy (%)")
    axes[0].grid(alpha=0.3)
    axes[0].legend()
    for ax, batch in zip(axes[1:], batches):
        for rule in rules:
            for i, path in enumerate(sorted(glob.glob(os.path.join(out, "runs", f"{rule}-b{batch}-seed*.csv")))):
                rows = read(path)
                ax.plot(column(rows, "epoch"), column(rows, "validation_accuracy"), color=colours.get(rule, "k"),
                        alpha=0.7, lw=1, label=rule if i == 0 else None)
        ax.set_title(f"batch {batch}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scaling.png"), dpi=110)


def seeded_parts(out, part):
    """{seed: children rows} of DIR/<part>-seed<S>.csv (the root, row 0, is not ranked)."""
    runs = {}
    for path in glob.glob(os.path.join(out, f"{part}-seed*.csv")):
        seed = int(os.path.basename(path)[len(part) + 5:-4])
        runs[seed] = read(path)[1:]
    return runs


def plot_transfer(out):
    summary = read(os.path.join(out, "summary.csv"))[0]
    scratch = seeded_parts(out, "scratch")
    first = min(scratch)
    x = column(scratch[first], "validation_accuracy")
    fig, ax = plt.subplots(figsize=(6.5, 6))
    short = summary["epochs_short"]
    series = [("transfer", "tab:red", "o", f"{short} epochs with transfer (parents: {summary['parents']})"),
              ("half", "tab:gray", "x", f"{short} epochs from scratch")]
    for part, colour, marker, label in series:
        runs = seeded_parts(out, part)
        if first in runs:
            rho = float(summary[f"spearman_{part}_vs_scratch_same_seed"])
            ax.scatter(x, column(runs[first], "validation_accuracy"), color=colour, marker=marker,
                       label=f"{label}, seed {first} (Spearman {rho:.3f})")
    for seed in sorted(s for s in scratch if s != first):
        rho = float(summary["spearman_scratch_vs_scratch_other_seeds"])
        ax.scatter(x, column(scratch[seed], "validation_accuracy"), color="tab:blue", marker="+", s=60,
                   label=f"{summary['epochs_scratch']} epochs from scratch, seed {seed} (Spearman {rho:.3f})")
    lo, hi = min(x) - 2, max(x) + 2
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, ls="--")
    ax.set_xlabel(f"validation accuracy after {summary['epochs_scratch']} epochs from scratch, seed {first} (%)")
    ax.set_ylabel("validation accuracy of the other training (%)")
    other = summary["spearman_transfer_vs_scratch_other_seeds"]
    ax.set_title(f"{summary['archs']} child architectures; Spearman of transfer vs scratch of the other seeds "
                 f"{float(other):.3f}" if other != "nan" else f"{summary['archs']} child architectures",
                 fontsize=10)
    ax.grid(alpha=0.3)
    # Below the axes: inside, it would hide the best architectures (top right).
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "transfer.png"), dpi=110, bbox_inches="tight")


def main():
    out = sys.argv[1]
    if glob.glob(os.path.join(out, "scratch-seed*.csv")):
        if os.path.exists(os.path.join(out, "summary.csv")):
            plot_transfer(out)
        return
    summary = read(os.path.join(out, "summary.csv"))
    if summary and "optimizer" in summary[0]:
        plot_optimizers(out, summary)
    elif summary and "scaling" in summary[0]:
        plot_scaling(out, summary)


if __name__ == "__main__":
    main()
