#!/usr/bin/python3
"""Report of bench/comm-netns.sh: tables of measured vs α-β model times, the issue-11 targets at the
largest P, and a PNG of time against P.  Usage: netns_report.py DIR

Reads DIR/p<P>/job<k>/{comm,comm_model}.csv and DIR/stock-p<P>/job<k>/comm.csv; writes DIR/jobs.csv
(every job's rows, with a job column), DIR/comm.csv (per op, algorithm and P: the median over the
jobs of each job's median time, the minimum of the minima; the columns of `alphax bench comm`),
DIR/comm_model.csv (every job's model rows), DIR/summary.md and DIR/netns.png. Ratios against
another algorithm are paired: taken within each job, then the median over the jobs."""
import glob
import math
import os
import sys

import pandas as pd

from report_common import COLUMNS, runs_section


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




def read_jobs(pattern, name):
    frames = []
    for path in sorted(glob.glob(os.path.join(pattern, name))):
        frame = pd.read_csv(path)
        frame["job"] = os.path.basename(os.path.dirname(path))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def aggregate(jobs):
    rows = jobs.groupby(["op", "algorithm", "ranks", "bytes"], sort=False).agg(
        time_us_median=("time_us_median", "median"), time_us_min=("time_us_min", "min"),
        jobs=("job", "nunique")).reset_index()
    rows["algbw_GBps"] = rows.bytes / rows.time_us_median * 1e-3
    factor = rows.apply(lambda r: 2 * (r.ranks - 1) / r.ranks if r.op == "allreduce" else 1.0, axis=1)
    rows["busbw_GBps"] = rows.algbw_GBps * factor
    return rows


def main(directory):
    jobs = read_jobs(os.path.join(directory, "p[0-9]*", "job*"), "comm.csv")
    model = read_jobs(os.path.join(directory, "p[0-9]*", "job*"), "comm_model.csv")
    jobs.to_csv(os.path.join(directory, "jobs.csv"), index=False)
    model.to_csv(os.path.join(directory, "comm_model.csv"), index=False)
    data = aggregate(jobs)
    data[COLUMNS].to_csv(os.path.join(directory, "comm.csv"), index=False)
    data["ms"] = data.time_us_median / 1e3
    jobs["ms"] = jobs.time_us_median / 1e3
    predicted = {}
    for (op, algorithm, ranks), part in model.groupby(["op", "algorithm", "ranks"]):
        predicted[(op, algorithm, ranks)] = part.predicted_us.median() / 1e3
    for (op, ranks), part in model.groupby(["op", "ranks"]):
        choice = part.auto_choice.mode().iloc[0]
        predicted[(op, "auto", ranks)] = predicted.get((op, choice, ranks))
    links = model.groupby("ranks")[["alpha_us", "beta_ns_per_byte"]].median()

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
    lines += runs_section(directory)
    njobs = jobs.groupby("ranks").job.nunique()
    lines.append("Median ms: each job's median over its repeats, then the median over the jobs "
                 f"({', '.join(f'P = {p}: {njobs.loc[p]}' for p in ranks)} jobs). In parentheses the α-β model's "
                 "prediction from the α, β the communicator's ping-pong measured (median over the jobs). Open MPI "
                 "TCP only, every variant with `btl_tcp_flags send,inplace,need-ack,need-csum` and "
                 "`btl_tcp_eager_limit 1114112`.")
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
        autos = model[(model.op == op)].groupby("ranks").auto_choice.agg(lambda c: c.mode().iloc[0])
        lines.append("auto chose: " + ", ".join(f"P = {p}: {autos.loc[p]}" for p in ranks if p in autos.index))
        lines.append("")

    p = max(ranks)
    beta = links.loc[p].beta_ns_per_byte * 1e-9

    def t(op, algorithm, ranks_=p):
        r = data[(data.op == op) & (data.algorithm == algorithm) & (data.ranks == ranks_)]
        return float("nan") if r.empty else float(r.ms.iloc[0])

    def paired(op, algorithm):
        """Per job at P = p: (best mpi:* or mpi time, its name) / algorithm's time; median over the jobs."""
        ratios, names = [], []
        for _, part in jobs[(jobs.op == op) & (jobs.ranks == p)].groupby("job"):
            library = part[part.algorithm.str.startswith("mpi")]
            best = library.loc[library.ms.idxmin()]
            mine = part[part.algorithm == algorithm]
            if mine.empty:
                continue
            ratios.append(float(best.ms) / float(mine.ms.iloc[0]))
            names.append(best.algorithm)
        s = pd.Series(ratios)
        return s.median(), s.min(), s.max(), ", ".join(sorted(set(names)))

    lines.append(f"## Targets at P = {p}")
    lines.append("")
    verdict = lambda ok: "**met**" if ok else "**missed**"
    if "bcast" in set(data.op):
        lp8, lp2 = t("bcast", "lp"), t("bcast", "lp", min(ranks))
        ratio, low, high, names = paired("bcast", "lp")
        bound = n * beta * 1e3
        lines.append(f"- bcast lp flat: {lp8:.0f} / {lp2:.0f} ms (P = {min(ranks)}) = {lp8 / lp2:.3f} (≤ 1.1) "
                     f"{verdict(lp8 / lp2 <= 1.1)}")
        lines.append(f"- bcast lp vs the best mpi variant of each job ({names}): {ratio:.2f}x "
                     f"[{low:.2f}, {high:.2f}] (≥ 1.25) {verdict(ratio >= 1.25)}")
        lines.append(f"- bcast lp vs link bound nβ = {bound:.0f} ms: {lp8 / bound:.3f} (≤ 1.10) "
                     f"{verdict(lp8 / bound <= 1.10)}")
    if "allreduce" in set(data.op):
        auto8 = t("allreduce", "auto")
        ratio, low, high, names = paired("allreduce", "auto")
        bound = 2 * (p - 1) / p * n * beta * 1e3
        lines.append(f"- allreduce auto vs the best mpi variant of each job ({names}): {ratio:.2f}x "
                     f"[{low:.2f}, {high:.2f}] (≥ 1.1) {verdict(ratio >= 1.1)}")
        lines.append(f"- allreduce auto vs bound 2(P−1)/P·nβ = {bound:.0f} ms: {auto8 / bound:.3f} (≤ 1.10) "
                     f"{verdict(auto8 / bound <= 1.10)}")
        if 3 in ranks:
            flat = t("allreduce", "lp") / t("allreduce", "lp", 3)
            lines.append(f"- allreduce lp flat from P = 3 to P = {p}: {t('allreduce', 'lp'):.0f} / "
                         f"{t('allreduce', 'lp', 3):.0f} ms = {flat:.3f} (≤ 1.15) {verdict(flat <= 1.15)}")
    lines.append("")

    for stock_dir in sorted(glob.glob(os.path.join(directory, "stock-p*"))):
        stock_jobs = read_jobs(stock_dir, os.path.join("job*", "comm.csv"))
        if stock_jobs is None:
            continue
        stock = aggregate(stock_jobs)
        sp = int(stock.ranks.iloc[0])
        lines.append(f"## Stock Open MPI TCP settings, P = {sp} (no btl_tcp_flags / eager-limit change; "
                     f"{stock_jobs.job.nunique()} job)")
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
