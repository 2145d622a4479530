"""Balance 10,000 accounts into 20 territories: time and quality figures.

FieldRep: ``balance()`` (capacitated k-means with Lagrangian prices, a stay-put penalty and locked
accounts) on the visit-hours measure. Baseline: plain Lloyd k-means (same start centres, same number
of rounds, numpy), which is what "compact territories" gives without any balance constraint; the
ratio compares run times, the quality figures show what the balance constraint buys.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from fieldrep.domain.balancing import balance, centres, workload


def scene(n: int, k: int, seed: int = 11) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    cities = rng.uniform([30, -120], [46, -72], size=(12, 2))
    weights = rng.dirichlet(np.ones(12) * 0.7)
    which = rng.choice(12, size=n, p=weights)
    lat = cities[which, 0] + rng.normal(0, 0.8, n)
    lon = cities[which, 1] + rng.normal(0, 1.1, n)
    potential = rng.lognormal(10, 1, n)
    # Today's territories: longitude stripes with equal width, the usual "drawn on a map" start.
    edges = np.linspace(lon.min(), lon.max() + 1e-9, k + 1)
    current = np.searchsorted(edges, lon, side="right") - 1
    locked = rng.random(n) < 0.02
    return lat, lon, potential, current, locked


def lloyd(lat: np.ndarray, lon: np.ndarray, current: np.ndarray, k: int, rounds: int) -> np.ndarray:
    c = centres(lat, lon, current, k)
    labels = current
    scale = np.cos(np.radians(lat.mean()))
    for _ in range(rounds):
        d2 = ((lon[:, None] - c[None, :, 1]) * scale) ** 2 + (lat[:, None] - c[None, :, 0]) ** 2
        labels = np.argmin(d2, axis=1)
        c = centres(lat, lon, labels, k, fallback=c)
    return labels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--measure", default="hours", choices=["accounts", "potential", "hours"])
    args = parser.parse_args()
    n, k = (2_000, 8) if args.quick else (10_000, 20)
    lat, lon, potential, current, locked = scene(n, k)
    t = time.perf_counter()
    result = balance(lat, lon, potential, current, k, locked=locked, measure=args.measure)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    plain = lloyd(lat, lon, current, k, result.iterations)
    t_base = time.perf_counter() - t
    plain_ratio = workload(lat, lon, potential, plain, k).ratio(args.measure)
    locked_kept = bool((result.labels[locked] == current[locked]).all())
    print(f"accounts {n:,}, territories {k}, measure {args.measure}, locked {int(locked.sum())}")
    print(
        f"max/min workload before {result.ratio_before:.2f}, after {result.ratio_after:.3f} "
        f"(plain k-means {plain_ratio:.2f}); moved {result.share_moved:.1%}; "
        f"locked kept: {locked_kept}; rounds {result.iterations}"
    )
    print(f"fieldrep balance {t_ours:6.2f} s; plain k-means {t_base:6.2f} s")
    print(
        json.dumps(
            {
                "bench": "balance_territories",
                "accounts": n,
                "territories": k,
                "measure": args.measure,
                "seconds": round(t_ours, 3),
                "baseline_s": round(t_base, 3),
                "ratio": round(t_ours / t_base, 2),
                "target": None,
                "max_min_before": round(result.ratio_before, 3),
                "max_min_after": round(result.ratio_after, 3),
                "max_min_plain_kmeans": round(plain_ratio, 3),
                "share_moved": round(result.share_moved, 4),
                "locked_kept": locked_kept,
            }
        )
    )


if __name__ == "__main__":
    main()
