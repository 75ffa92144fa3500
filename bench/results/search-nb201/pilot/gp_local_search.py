#!/usr/bin/python3
"""Session 17 prototype (not product code): a Gaussian process on the NB201 table, with and without
"the incumbent's neighbourhood first", to see which part of a search shortens the tail of samples to
the best. Enumerates the table's 6,466 classes, which alphax's strategies must never do.

Model: GP with kernel exp(-hamming(a, b) / 4) over the six edge ops (edges that cannot reach the
output encoded as none, as Nb201Space::encode does), noise 0.05, targets standardised and clipped at
-2.5 sd. Each step proposes, while the best evaluated class has unseen one-edit neighbours (with
--local), the neighbour of highest posterior mean; otherwise the global acquisition over every unseen
class (or over a random pool of --pool classes): expected improvement (ei) or mean + 0.5 sd (ucb).
A class's value is its first row's, as in bench/search/table_noise.py.

Session 18 added asynchronous workers as `alphax bench search` simulates them (--workers W: W
evaluations in flight, exponential durations, so results return in a random order; samples counted
at completion), in-flight proposals as believed points that shrink the posterior spread near them
(--batch believer) or ignored (none), and the first 8 proposals drawn as uniform cells (--cell-init,
as alphax draws them) or, of --maximin K uniform cells, the one farthest from those already taken.

usage: /usr/bin/python3 bench/results/search-nb201/pilot/gp_local_search.py [--local] [--acquisition ei|ucb]
           [--pool N] [--seeds 100] [--first-seed 0] [--workers W] [--batch believer|none]
           [--cell-init] [--maximin K]   (numpy and scipy; 3-5 min for 100 seeds)
"""
import argparse
import csv
import itertools
import os
import sys

import numpy as np
from scipy.stats import norm

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "search"))
from table_noise import EDGES, canonical, parse  # noqa: E402


def live(genome):
    reach = {0}
    for t in (1, 2, 3):
        if any(s in reach and genome[e] != 0 for e, (s, tt) in enumerate(EDGES) if tt == t):
            reach.add(t)
    to_out = {3}
    for s in (2, 1, 0):
        if any(t in to_out and genome[e] != 0 for e, (ss, t) in enumerate(EDGES) if ss == s):
            to_out.add(s)
    return [op if (s in reach and t in to_out) else 0 for (s, t), op in zip(EDGES, genome)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--table", default="data/nb201/nb201_cifar10_12epoch.csv")
    parser.add_argument("--local", action="store_true")
    parser.add_argument("--acquisition", choices=["ei", "ucb"], default="ei")
    parser.add_argument("--pool", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=400)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cell-init", action="store_true")
    parser.add_argument("--maximin", type=int, default=0)
    parser.add_argument("--batch", choices=["none", "believer"], default="believer")
    args = parser.parse_args()

    classes, class_of = {}, {}
    for row in csv.DictReader(open(args.table)):
        genome = parse(row["arch"])
        key = canonical(genome)
        if key not in classes:
            classes[key] = (live(genome), float(row["valid_accuracy"]), float(row["test_accuracy"]))
    keys = list(classes)
    index = {k: i for i, k in enumerate(keys)}
    n = len(keys)
    ops = np.array([classes[k][0] for k in keys])
    valid = np.array([classes[k][1] for k in keys])
    test = np.array([classes[k][2] for k in keys])
    onehot = np.zeros((n, 30))
    for e in range(6):
        onehot[np.arange(n), e * 5 + ops[:, e]] = 1
    for g in itertools.product(range(5), repeat=6):
        class_of[g] = index[canonical(list(g))]
    cell_class = [class_of[g] for g in itertools.product(range(5), repeat=6)]
    neighbours = [set() for _ in range(n)]
    for g, c in class_of.items():
        for e in range(6):
            for op in range(5):
                if op != g[e]:
                    h = list(g)
                    h[e] = op
                    neighbours[c].add(class_of[tuple(h)])
    for c in range(n):
        neighbours[c].discard(c)
    best, max_test = int(valid.argmax()), test.max()

    def posterior(seen, pending):
        y = valid[seen]
        t = np.clip((y - y.mean()) / (y.std() + 1e-9), -2.5, None)
        xs = onehot[seen]
        k = np.exp(-(6 - xs @ xs.T) / 4.0) + 0.05 * np.eye(len(seen))
        chol = np.linalg.cholesky(k)
        alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, t))
        ks = np.exp(-(6 - onehot @ xs.T) / 4.0)
        mean = ks @ alpha
        if pending and args.batch == "believer":
            allx = onehot[seen + pending]
            k = np.exp(-(6 - allx @ allx.T) / 4.0) + 0.05 * np.eye(len(allx))
            chol = np.linalg.cholesky(k)
            ks = np.exp(-(6 - onehot @ allx.T) / 4.0)
        v = np.linalg.solve(chol, ks.T)
        return mean, np.sqrt(np.clip(1 - (v * v).sum(0), 1e-12, None)), t.max()

    def propose(rng, seen, pending, taken):
        if len(seen) < 8:
            if args.maximin and taken:
                cands = [cell_class[int(rng.integers(len(cell_class)))] for _ in range(args.maximin)]
                cands = [c for c in cands if c not in taken] or cands
                tk = onehot[list(taken)]
                d = [(6 - (tk @ onehot[c]).max()) for c in cands]
                return cands[int(np.argmax(d))]
            while True:
                c = int(rng.integers(n)) if not args.cell_init else cell_class[int(rng.integers(len(cell_class)))]
                if c not in taken:
                    return c
        mean, sd, top = posterior(seen, pending)
        incumbent = seen[int(np.argmax(valid[seen]))]
        local = [c for c in neighbours[incumbent] if c not in taken] if args.local else []
        if local:
            return max(local, key=lambda c: mean[c])
        if args.acquisition == "ei":
            z = (mean - top) / sd
            score = (mean - top) * norm.cdf(z) + sd * norm.pdf(z)
        else:
            score = mean + 0.5 * sd
        score[list(taken)] = -np.inf
        candidates = rng.choice(n, args.pool, replace=False) if args.pool else np.arange(n)
        pick = int(candidates[np.argmax(score[candidates])])
        if score[pick] == -np.inf:
            pick = int(np.argmax(score))
        return pick

    def run(seed):
        rng = np.random.default_rng(seed)
        seen, pending, taken = [], [], set()
        running = []  # (finish, order, class)
        now, order = 0.0, 0
        import heapq
        while len(seen) < args.budget:
            while len(running) < args.workers:
                c = propose(rng, seen, pending, taken)
                taken.add(c); pending.append(c)
                heapq.heappush(running, (now + rng.exponential(), order, c)); order += 1
            now, _, c = heapq.heappop(running)
            pending.remove(c); seen.append(c)
            if c == best:
                break
        samples = len(seen) if best in seen else args.budget

        def regret(k):
            first = seen[:k]
            return max_test - test[first[int(np.argmax(valid[first]))]]

        return samples, regret(50), regret(100), regret(200)

    results = np.array([run(s) for s in range(args.first_seed, args.first_seed + args.seeds)])
    s = results[:, 0]
    print("W %d batch %s local %s, %s over %s, seeds %d-%d: samples to best mean %.1f, median %.1f, found within 200 %.2f, "
          "regret@50/100/200 %.3f / %.3f / %.3f" % (args.workers, args.batch, args.local, args.acquisition, args.pool or "all unseen",
          args.first_seed, args.first_seed + args.seeds - 1, s.mean(), np.median(s), (s <= 200).mean(),
          *results[:, 1:].mean(0)))


if __name__ == "__main__":
    main()
