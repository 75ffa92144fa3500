#!/usr/bin/python3
"""What a transferred child's accuracy follows, from an `alphax bench train --transfer` directory.

    /usr/bin/python3 bench/train/transfer_diagnostics.py DIR [SEED]

Prints the Spearman correlation of the children's accuracies after the short training with
transfer (DIR/transfer-seed<SEED>.csv) against: their own accuracy after the full training from
scratch (DIR/scratch-seed<SEED>.csv), the accuracy their parent reached in the transfer part, the
cell distance to the parent, and the parent's depth in the transfer lineage (0 = trained from
scratch). A ranking that follows the parent or the distance more than the child's own scratch
accuracy measures inherited state, not the child's architecture.
"""
import csv
import os
import sys

from scipy.stats import spearmanr


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main():
    out = sys.argv[1]
    seed = sys.argv[2] if len(sys.argv) > 2 else "1"
    moved = read(os.path.join(out, f"transfer-seed{seed}.csv"))
    scratch = read(os.path.join(out, f"scratch-seed{seed}.csv"))
    index = {r["arch"]: int(r["index"]) for r in moved}
    depth = {}
    for r in moved:  # rows are in training order: a parent always precedes its children
        depth[int(r["index"])] = 0 if not r["parent"] else depth[index[r["parent"]]] + 1
    children = [r for r in moved[1:] if r["parent"]]
    accuracy = [float(r["validation_accuracy"]) for r in children]
    own = [float(scratch[int(r["index"])]["validation_accuracy"]) for r in children]
    parent = [float(moved[index[r["parent"]]]["validation_accuracy"]) for r in children]
    distance = [int(r["distance"]) for r in children]
    parent_depth = [depth[index[r["parent"]]] for r in children]
    print(f"{len(children)} children with a parent; Spearman of the accuracy with transfer against")
    for name, values in [("its own accuracy from scratch", own), ("its parent's accuracy", parent),
                         ("the distance to its parent", distance), ("its parent's lineage depth", parent_depth)]:
        if len(set(values)) > 1:
            print(f"  {name:32s} {spearmanr(accuracy, values).correlation:+.3f}")
        else:
            print(f"  {name:32s} (the same for every child)")
    print("distances:", {d: distance.count(d) for d in sorted(set(distance))})


if __name__ == "__main__":
    main()
