#!/usr/bin/env python3
"""Weak-scaling projection of IUMAD data-parallel training (docs/scaling.md).

Model: every node keeps its local batch, so the compute time per step T_c stays what
`iumad bench step` / `iumad bench allreduce` measured; each step adds one all-reduce of the
whole gradient (n float32 values) in buckets, not overlapped with compute. The all-reduce is
IUMAD's rank-ordered recursive halving + doubling (power-of-two P; MPI's ring otherwise):

  T_ar(P) = buckets · 2·ceil(log2 P) · α  +  2·(P−1)/P · 4n / β
  efficiency(P) = T_c / (T_c + exposed(P))
  exposed(P)    = T_ar(P) without overlap; with --overlap f (the share of T_c spent in the
                  backward the buckets can hide behind, ≈ 2/3 with one micro-batch per rank):
                  max(T_ar − f·T_c, T_ar / buckets) — the bucket holding the first layers'
                  gradients is only ready when the backward ends.

Usage:
  Scripts/scaling_model.py --allreduce-json ar.json            # T_c and n per preset from the bench
  Scripts/scaling_model.py --step-seconds 5.9 --params 19005432 --name paper
Options: --alpha-us (default 30), --bucket-mib (default 16), --speedups 1,16 (node vs measured),
--overlap 0.67 (hide the all-reduce behind the backward).
"""
import argparse
import json
import math


def buckets(n, bucket_mib):
    return max(1, math.ceil(4 * n / (bucket_mib * 2**20)))


def allreduce_seconds(n, p, gbit, alpha, bucket_mib):
    if p == 1:
        return 0.0
    beta = gbit * 1e9 / 8
    return buckets(n, bucket_mib) * 2 * math.ceil(math.log2(p)) * alpha + 2 * (p - 1) / p * 4 * n / beta


def exposed_seconds(n, p, gbit, alpha, bucket_mib, tc, overlap):
    t = allreduce_seconds(n, p, gbit, alpha, bucket_mib)
    return t if overlap <= 0 else max(t - overlap * tc, t / buckets(n, bucket_mib))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--allreduce-json", help="JSON written by `iumad bench allreduce --json`")
    ap.add_argument("--step-seconds", type=float)
    ap.add_argument("--params", type=int)
    ap.add_argument("--name", default="model")
    ap.add_argument("--alpha-us", type=float, default=30.0, help="per-message latency (µs)")
    ap.add_argument("--bucket-mib", type=float, default=16)
    ap.add_argument("--speedups", default="1,16", help="node compute speed relative to the measurement")
    ap.add_argument("--nodes", default="8,16,32,64")
    ap.add_argument("--gbits", default="10,25")
    ap.add_argument("--overlap", type=float, default=0.0, help="share of T_c the all-reduce can hide behind (0 = none)")
    a = ap.parse_args()
    cases = []
    if a.allreduce_json:
        with open(a.allreduce_json) as f:
            bench = json.load(f)
        cases = [(s["preset"], s["seconds_per_step"], s["parameters"]) for s in bench["steps"]]
    elif a.step_seconds and a.params:
        cases = [(a.name, a.step_seconds, a.params)]
    else:
        ap.error("give --allreduce-json, or --step-seconds and --params")
    nodes = [int(x) for x in a.nodes.split(",")]
    gbits = [float(x) for x in a.gbits.split(",")]
    speedups = [float(x) for x in a.speedups.split(",")]
    alpha = a.alpha_us * 1e-6
    head = "| preset | params | node speed | T_c (s) | link | " + " | ".join(f"{p} nodes" for p in nodes) + " |"
    print(head)
    print("|" + "---|" * (5 + len(nodes)))
    for name, step, n in cases:
        for s in speedups:
            tc = step / s
            for g in gbits:
                eff = [tc / (tc + exposed_seconds(n, p, g, alpha, a.bucket_mib, tc, a.overlap)) for p in nodes]
                cells = " | ".join(f"{100 * e:.1f} %" for e in eff)
                print(f"| {name} | {n / 1e6:.2f} M | ×{s:g} | {tc:.3f} | {g:g} Gbit/s | {cells} |")


if __name__ == "__main__":
    main()
