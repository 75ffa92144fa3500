"""Shared by the comm benchmark reports (netns_report.py, shm_report.py)."""
import os

# The columns of comm.csv (issue 11's OSU-style table).
COLUMNS = ["op", "algorithm", "ranks", "bytes", "time_us_median", "time_us_min", "algbw_GBps", "busbw_GBps"]


def runs_section(directory):
    """The calls that produced DIR (bench script's runs.md: time, commit, machine, command)."""
    path = os.path.join(directory, "runs.md")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return ["Produced by these calls (UTC time, commit, machine, command):", "", f.read().rstrip(), ""]
