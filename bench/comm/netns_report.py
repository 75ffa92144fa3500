#!/usr/bin/python3
"""Report of bench/comm-netns.sh: tables of measured vs α-β model times, the issue-11 targets at the
largest P, and a PNG of time against P.  Usage: netns_report.py DIR  (reads DIR/comm.csv,
DIR/comm_model.csv, DIR/stock-p*/comm.csv; writes DIR/summary.md and DIR/netns.png)."""
import glob
import math
import os
import sys

import pandas as pd


def log2_ceil(p):
    return math.ceil(math.log2(p)) if p > 1 else 0


def mpi_model_seconds(op, name, p, n, alpha, beta, segment=1 << 20):
    """α-β predictions of Open MPI's forced algorithms on hosts with one full-duplex link each."""
    if name == "mpi:binomial":
        return (2 if op == "allreduce" else 1) * log2_ceil(p) * (alpha + n * beta)
    if name == "mpi:be":  # binomial scatter + ring allgather
        return (log2_ceil(p) + p - 1) * alpha + 2 * (p - 1) / p * n * beta
    if name == "mpi:pipeline":  # chain with `segment`-byte segments
        s = min(segment, n)
        return (math.ceil(n / s) + p - 2) * (alpha + s * beta)
    if name == "mpi:ring":
        return 2 * (p - 1) * (alpha + n / p * beta)
    if name == "mpi:rabenseifner":
        q = 1 << int(math.floor(math.log2(p)))
        extra = 0.0 if q == p else 2 * (alpha + n * beta)
        return extra + 2 * math.log2(q) * alpha + 2 * (q - 1) / q * n * beta
    return float("nan")


def main(directory):
    data = pd.read_csv(os.path.join(directory, "comm.csv"))
    model = pd.read_csv(os.path.join(directory, "comm_model.csv"))
    data["ms"] = data.time_us_median / 1e3
    predicted = {}
    for row in model.itertuples():
        predicted[(row.op, row.algorithm, row.ranks)] = row.predicted_us / 1e3
        predicted[(row.op, "auto", row.ranks)] = None  # filled below
    links = model.groupby("ranks").first()
    for row in model.itertuples():
        if row.algorithm == row.auto_choice:
            predicted[(row.op, "auto", row.ranks)] = row.predicted_us / 1e3

    def model_ms(op, algorithm, p, n):
        if algorithm.startswith("mpi:"):
            link = links.loc[p]
            return 1e3 * mpi_model_seconds(op, algorithm, p, n, link.alpha_us * 1e-6, link.beta_ns_per_byte * 1e-9)
        value = predicted.get((op, algorithm, p))
        return float("nan") if value is None else value

    data["model_ms"] = [model_ms(r.op, r.algorithm, r.ranks, r.bytes) for r in data.itertuples()]
    ranks = sorted(data.ranks.unique())
    n = int(data.bytes.iloc[0])
    lines = [f"# lib/comm on a shaped multi-host network: {n / 2**20:.0f} MiB, P = {', '.join(map(str, ranks))}", ""]
    lines.append("Median ms over the repeats (α-β model prediction in parentheses; α, β measured by the ")
    lines.append("communicator's ping-pong in each job).")
    lines.append("")
    for p in ranks:
        link = links.loc[p]
        lines.append(f"- P = {p}: α = {link.alpha_us:.1f} µs, β = {link.beta_ns_per_byte:.2f} ns/byte "
                     f"({8e3 / link.beta_ns_per_byte:.0f} Mbit/s), nβ = {n * link.beta_ns_per_byte * 1e-6:.0f} ms")
    lines.append("")
    for op in data.op.unique():
        part = data[data.op == op]
        lines.append(f"## {op}")
        lines.append("")
        lines.append("| algorithm | " + " | ".join(f"P = {p}" for p in ranks) + " |")
        lines.append("|---|" + "---|" * len(ranks))
        for algorithm in part.algorithm.unique():
            cells = []
            for p in ranks:
                r = part[(part.algorithm == algorithm) & (part.ranks == p)]
                if r.empty:
                    cells.append("")
                    continue
                m = r.model_ms.iloc[0]
                cells.append(f"{r.ms.iloc[0]:.0f}" + ("" if math.isnan(m) else f" ({m:.0f})"))
            lines.append(f"| {algorithm} | " + " | ".join(cells) + " |")
        lines.append("")
        autos = model[(model.op == op)].groupby("ranks").auto_choice.first()
        lines.append("auto chose: " + ", ".join(f"P = {p}: {autos.loc[p]}" for p in ranks if p in autos.index))
        lines.append("")

    p = max(ranks)
    beta = links.loc[p].beta_ns_per_byte * 1e-9

    def t(op, algorithm, ranks_=p):
        r = data[(data.op == op) & (data.algorithm == algorithm) & (data.ranks == ranks_)]
        return float("nan") if r.empty else float(r.ms.iloc[0])

    def best_mpi(op):
        rows = data[(data.op == op) & (data.ranks == p) & data.algorithm.str.startswith("mpi")]
        best = rows.loc[rows.ms.idxmin()]
        return float(best.ms), best.algorithm

    lines.append(f"## Targets at P = {p}")
    lines.append("")
    verdict = lambda ok: "**met**" if ok else "**missed**"
    if "bcast" in set(data.op):
        lp8, lp2 = t("bcast", "lp"), t("bcast", "lp", min(ranks))
        mpi_ms, mpi_name = best_mpi("bcast")
        bound = n * beta * 1e3
        lines.append(f"- bcast lp flat: {lp8:.0f} / {lp2:.0f} ms = {lp8 / lp2:.3f} (≤ 1.1) {verdict(lp8 / lp2 <= 1.1)}")
        lines.append(f"- bcast lp vs best mpi ({mpi_name}, {mpi_ms:.0f} ms): {mpi_ms / lp8:.2f}x (≥ 1.25) "
                     f"{verdict(mpi_ms / lp8 >= 1.25)}")
        lines.append(f"- bcast lp vs link bound nβ = {bound:.0f} ms: {lp8 / bound:.3f} (≤ 1.10) "
                     f"{verdict(lp8 / bound <= 1.10)}")
    if "allreduce" in set(data.op):
        auto8 = t("allreduce", "auto")
        mpi_ms, mpi_name = best_mpi("allreduce")
        bound = 2 * (p - 1) / p * n * beta * 1e3
        lines.append(f"- allreduce auto vs best mpi ({mpi_name}, {mpi_ms:.0f} ms): {mpi_ms / auto8:.2f}x (≥ 1.1) "
                     f"{verdict(mpi_ms / auto8 >= 1.1)}")
        lines.append(f"- allreduce auto vs bound 2(P−1)/P·nβ = {bound:.0f} ms: {auto8 / bound:.3f} (≤ 1.10) "
                     f"{verdict(auto8 / bound <= 1.10)}")
        if 3 in ranks:
            flat = t("allreduce", "lp") / t("allreduce", "lp", 3)
            lines.append(f"- allreduce lp flat from P = 3 to P = {p}: {flat:.3f} (≤ 1.15) {verdict(flat <= 1.15)}")
    lines.append("")

    for stock_dir in sorted(glob.glob(os.path.join(directory, "stock-p*"))):
        stock_csv = os.path.join(stock_dir, "comm.csv")
        if not os.path.exists(stock_csv):
            continue
        stock = pd.read_csv(stock_csv)
        sp = int(stock.ranks.iloc[0])
        lines.append(f"## Stock Open MPI TCP settings, P = {sp} (no btl_tcp_flags / eager-limit change)")
        lines.append("")
        lines.append("| op | algorithm | stock ms | tuned ms |")
        lines.append("|---|---|---|---|")
        for r in stock.itertuples():
            tuned = data[(data.op == r.op) & (data.algorithm == r.algorithm) & (data.ranks == sp)]
            tuned_ms = f"{tuned.ms.iloc[0]:.0f}" if not tuned.empty else ""
            lines.append(f"| {r.op} | {r.algorithm} | {r.time_us_median / 1e3:.0f} | {tuned_ms} |")
        lines.append("")

    with open(os.path.join(directory, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("netns_report.py: matplotlib missing; no PNG")
        return
    ops = list(data.op.unique())
    fig, axes = plt.subplots(1, len(ops), figsize=(6.5 * len(ops), 4.8), squeeze=False)
    for ax, op in zip(axes[0], ops):
        part = data[data.op == op]
        for algorithm in part.algorithm.unique():
            rows = part[part.algorithm == algorithm].sort_values("ranks")
            line, = ax.plot(rows.ranks, rows.ms, marker="o", label=algorithm)
            if not rows.model_ms.isna().all():
                ax.plot(rows.ranks, rows.model_ms, linestyle=":", color=line.get_color())
        bounds = [(n if op != "allreduce" else 2 * (q - 1) / q * n) * links.loc[q].beta_ns_per_byte * 1e-6
                  for q in ranks]
        ax.plot(ranks, bounds, color="black", linestyle="--", label="link bound")
        ax.set_title(f"{op}, {n / 2**20:.0f} MiB, 200 Mbit/s links (dotted: α-β model)")
        ax.set_xlabel("P (hosts)")
        ax.set_ylabel("time (ms, median)")
        ax.set_xticks(ranks)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "netns.png"), dpi=110)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
