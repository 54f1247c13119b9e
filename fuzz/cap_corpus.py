#!/usr/bin/env python3
"""Keeps at most CAP files of a minimized corpus, the ones that cover the most edges.

    cap_corpus.py CONTROL_FILE CORPUS_DIR CAP

CONTROL_FILE is libFuzzer's merge control file for CORPUS_DIR (`-merge=1 -use_counters=0
-merge_control_file=...`): its COV lines list the edges each input covers. A greedy set cover
(most new edges first, the smaller file on a tie) picks up to CAP inputs; the others are
deleted from CORPUS_DIR. Prints how many edges the kept files cover, out of all.
"""
import heapq
import os
import sys


def main():
    control, corpus, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(control) as f:
        lines = f.read().splitlines()
    n = int(lines[0])
    paths = lines[2:2 + n]
    cov, size = {}, {}
    for line in lines[2 + n:]:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "STARTED":
            size[int(parts[1])] = int(parts[2])
        elif parts[0] == "COV":
            cov[int(parts[1])] = set(map(int, parts[2:]))
    everything = set().union(*cov.values()) if cov else set()
    covered, kept = set(), []
    # Lazy greedy: gains only shrink, so a popped entry whose recomputed gain still tops the
    # heap is the best choice.
    heap = [(-len(c), size.get(i, 0), i) for i, c in cov.items()]
    heapq.heapify(heap)
    while heap and len(kept) < cap:
        neg, sz, i = heapq.heappop(heap)
        gain = len(cov[i] - covered)
        if gain == 0:
            break
        if heap and gain < -heap[0][0]:
            heapq.heappush(heap, (-gain, sz, i))
            continue
        kept.append(i)
        covered |= cov[i]
    keep = {os.path.basename(paths[i]) for i in kept}
    removed = 0
    for name in os.listdir(corpus):
        if name not in keep:
            os.remove(os.path.join(corpus, name))
            removed += 1
    share = 100.0 * len(covered) / len(everything) if everything else 100.0
    print(f"kept {len(keep)} files covering {len(covered)} of {len(everything)} edges "
          f"({share:.1f}%); removed {removed}")


if __name__ == "__main__":
    main()
