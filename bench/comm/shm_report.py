#!/usr/bin/python3
"""Report of bench/comm/shm-bench.sh.  Usage: shm_report.py DIR

Reads DIR/malloc-{default,tuned}/job*/comm.csv; writes DIR/malloc-{default,tuned}/comm.csv (per
op, algorithm and size: the median over the jobs of the per-job median time, the minimum of the
per-job minima; algbw/busbw from that median), DIR/comm.csv (= the tuned one) and DIR/summary.md:
the tables and, per job, the paired ratio (library default time) / (alphax's best time), whose
median over the jobs is checked against the issue's target of 1.2 at 16 and 64 MiB."""
import glob
import os
import sys

import pandas as pd

from report_common import COLUMNS, runs_section

ENVS = {"tuned": "MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=4294967295", "default": "glibc defaults"}
OPS = ["bcast", "reduce", "allreduce"]


def is_alphax(algorithm):
    return not algorithm.startswith("mpi")


def load(directory, env):
    frames = []
    for path in sorted(glob.glob(os.path.join(directory, f"malloc-{env}", "job*", "comm.csv"))):
        frame = pd.read_csv(path)
        frame["job"] = os.path.basename(os.path.dirname(path))
        frames.append(frame)
    return pd.concat(frames) if frames else None


def aggregate(data):
    rows = data.groupby(["op", "algorithm", "ranks", "bytes"], sort=False).agg(
        time_us_median=("time_us_median", "median"), time_us_min=("time_us_min", "min")).reset_index()
    rows["algbw_GBps"] = rows.bytes / rows.time_us_median * 1e-3
    factor = rows.apply(lambda r: 2 * (r.ranks - 1) / r.ranks if r.op == "allreduce" else 1.0, axis=1)
    rows["busbw_GBps"] = rows.algbw_GBps * factor
    return rows[COLUMNS]


def paired_ratios(data):
    """Per job, op and size: default MPI time / best alphax time (and which alphax row was best)."""
    out = []
    for (job, op, size), part in data.groupby(["job", "op", "bytes"]):
        mine = part[part.algorithm.map(is_alphax)]
        best = mine.loc[mine.time_us_median.idxmin()]
        library = float(part[part.algorithm == "mpi"].time_us_median.iloc[0])
        forced = part[part.algorithm.str.startswith("mpi:")]
        best_forced = forced.time_us_median.min() if not forced.empty else float("nan")
        out.append({"job": job, "op": op, "bytes": size, "best": best.algorithm, "best_us": best.time_us_median,
                    "mpi_us": library, "ratio": library / best.time_us_median,
                    "ratio_best_mpi": min(library, best_forced) / best.time_us_median})
    return pd.DataFrame(out)


def size_name(n):
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def main(directory):
    lines = ["# lib/comm on shared memory: P = 2 ranks bound to cores", ""]
    lines += runs_section(directory)
    ratio_tables = {}
    for env, description in ENVS.items():
        data = load(directory, env)
        if data is None:
            continue
        rows = aggregate(data)
        rows.to_csv(os.path.join(directory, f"malloc-{env}", "comm.csv"), index=False)
        if env == "tuned":
            rows.to_csv(os.path.join(directory, "comm.csv"), index=False)
        jobs = data.job.nunique()
        lines += [f"## {description} ({jobs} jobs)", "",
                  "Median over the jobs of each job's median time (µs); algbw in GB/s. `@p2p`: the same "
                  "alphax algorithm on MPI point-to-point instead of the shared-memory transport.", ""]
        sizes = sorted(rows.bytes.unique())
        lines.append("| op | algorithm | " + " | ".join(f"{size_name(s)} µs (GB/s)" for s in sizes) + " |")
        lines.append("|---|---|" + "---|" * len(sizes))
        for op in OPS:
            part = rows[rows.op == op]
            for algorithm in part.algorithm.unique():
                cells = []
                for s in sizes:
                    r = part[(part.algorithm == algorithm) & (part.bytes == s)]
                    cells.append(f"{r.time_us_median.iloc[0]:.0f} ({r.algbw_GBps.iloc[0]:.2f})" if not r.empty else "")
                lines.append(f"| {op} | {algorithm} | " + " | ".join(cells) + " |")
        lines.append("")
        ratios = paired_ratios(data)
        ratio_tables[env] = ratios
        lines += ["Paired ratios (per job: library default time / alphax's best time in that job; median over "
                  "the jobs, [min, max]); the target is ≥ 1.2 at 16 and 64 MiB.", "",
                  "| op | size | best alphax (per job) | median ratio | range | vs best mpi:* too | target |",
                  "|---|---|---|---|---|---|---|"]
        for op in OPS:
            for s in sizes:
                r = ratios[(ratios.op == op) & (ratios.bytes == s)]
                if r.empty:
                    continue
                median = r.ratio.median()
                target = ("**met**" if median >= 1.2 else "**missed**") if s >= 16 << 20 else "—"
                lines.append(f"| {op} | {size_name(s)} | {', '.join(sorted(set(r.best)))} | {median:.2f} | "
                             f"[{r.ratio.min():.2f}, {r.ratio.max():.2f}] | {r.ratio_best_mpi.median():.2f} | {target} |")
        lines.append("")
    if set(ratio_tables) == set(ENVS):
        lines += ["## Library default with and without the malloc settings", "",
                  "| op | size | mpi µs, tuned | mpi µs, default | default / tuned |", "|---|---|---|---|---|"]
        tuned, default = ratio_tables["tuned"], ratio_tables["default"]
        for op in OPS:
            for s in sorted(tuned.bytes.unique()):
                a = tuned[(tuned.op == op) & (tuned.bytes == s)].mpi_us.median()
                b = default[(default.op == op) & (default.bytes == s)].mpi_us.median()
                lines.append(f"| {op} | {size_name(s)} | {a:.0f} | {b:.0f} | {b / a:.2f} |")
        lines.append("")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(directory, "summary.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
