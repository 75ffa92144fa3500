#!/usr/bin/python3
"""How far apart the best cells of the NAS-Bench-201 table are, against the noise of one evaluation.

NAS-Bench-201 trained every one of its 15,625 cells separately, also the cells that compute the
same function (same canonical class). Two cells of one class are two training runs of one network,
so their objective values differ only by training noise: their spread estimates the noise of one
evaluation. Counting the classes within one and two noise deviations of the best objective tells
how many cells no predictor of an architecture's *expected* accuracy can rank against the best.

usage: /usr/bin/python3 bench/search/table_noise.py [TABLE.csv] [--objective valid_accuracy] [--above 80]

The class of a cell is NAS-Bench-201's functional string, as in Nb201Space::canonical_string
(lib/search/src/spaces.cpp); the script checks that the table has 6,466 classes, as the C++ hash
finds. Values per class are the first row's, as the search driver takes the first evaluated.
"""
import argparse
import csv
import itertools
import statistics

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
EDGES = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]


def parse(cell):
    genome = []
    for node in cell.strip("|").split("|+|"):
        for term in node.strip("|").split("|"):
            genome.append(OPS.index(term.split("~")[0]))
    return genome


def canonical(genome):
    node = ["0", "", "", ""]
    for to in range(1, 4):
        terms = []
        for edge, (source, target) in enumerate(EDGES):
            if target != to:
                continue
            inp, op = node[source], genome[edge]
            if op == 0 or inp == "#":
                terms.append("#")
            elif op == 1:
                terms.append(inp)
            else:
                terms.append("(%s)@%s" % (inp, OPS[op]))
        node[to] = "+".join(sorted(terms))
    return node[3]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("table", nargs="?", default="data/nb201/nb201_cifar10_12epoch.csv")
    parser.add_argument("--key", default="arch")
    parser.add_argument("--objective", default="valid_accuracy")
    parser.add_argument("--above", type=float, default=80.0,
                        help="use classes whose mean objective is above this (the region the search ends in)")
    args = parser.parse_args()
    classes = {}
    for row in csv.DictReader(open(args.table)):
        classes.setdefault(canonical(parse(row[args.key])), []).append(float(row[args.objective]))
    if len(classes) != 6466:
        raise SystemExit("expected 6,466 classes in an NB201 table, found %d" % len(classes))
    differences = [a - b for values in classes.values() if len(values) > 1 and statistics.mean(values) > args.above
                   for a, b in itertools.combinations(values, 2)]
    noise = (statistics.mean(d * d for d in differences) / 2) ** 0.5
    first = sorted((values[0] for values in classes.values()), reverse=True)
    best = first[0]
    print("table %s: %d cells, %d classes" % (args.table, sum(map(len, classes.values())), len(classes)))
    print("noise of one evaluation (sd over %d pairs of cells of one class, class mean > %g): %.3f"
          % (len(differences), args.above, noise))
    print("best %s %.3f; second %.3f (gap %.2f sd)" % (args.objective, best, first[1], (best - first[1]) / noise))
    for k in (1, 2):
        print("classes within %d sd of the best: %d" % (k, sum(1 for v in first if v >= best - k * noise)))


if __name__ == "__main__":
    main()
