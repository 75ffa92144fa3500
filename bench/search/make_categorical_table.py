#!/usr/bin/python3
"""Writes a synthetic table for a categorical space, to check that the search strategies are not
tied to NAS-Bench-201: an NK-style landscape over L positions with K values each (a seeded random
term per position and value, plus a random term per pair of neighbouring positions and their
values), so that it has many local optima.

usage: /usr/bin/python3 bench/search/make_categorical_table.py OUT.csv [--positions L] [--choices K] [--seed S]
"""
import argparse
import csv
import itertools
import random


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--positions", type=int, default=6)
    parser.add_argument("--choices", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    L, K = args.positions, args.choices
    single = [[rng.gauss(0, 1) for _ in range(K)] for _ in range(L)]
    pair = [[[rng.gauss(0, 1) for _ in range(K)] for _ in range(K)] for _ in range(L - 1)]
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "objective", "report"])
        for g in itertools.product(range(K), repeat=L):
            value = sum(single[i][g[i]] for i in range(L)) + sum(pair[i][g[i]][g[i + 1]] for i in range(L - 1))
            # The report column is the objective plus independent noise, as test against validation accuracy.
            w.writerow(["".join(map(str, g)), f"{value:.6f}", f"{value + rng.gauss(0, 0.1):.6f}"])


if __name__ == "__main__":
    main()
