"""Print image build times (cold and warm) per kind and suite, and topology bring-up times
(median of N) per scenario.

    python benchmarks/bringup.py --suite bookworm [--cold] [--runs 5] [scenario ...]

--cold rebuilds each image without the engine's layer cache (from the Debian base image,
which is kept), so the build is timed as on a machine that never built it; without it, only
the warm path (hash check, image present) is timed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from harness.core.images import ensure_image
from harness.kinds import image_kinds
from harness.scenario.catalog import all_scenarios, find_scenario
from harness.scenario.loader import load_scenario
from harness.scenario.model import parse_suites
from harness.topology import Topology


def time_images(suite: str, cold: bool) -> None:
    print(f"images on {suite}:")
    for name, kind in sorted(image_kinds().items()):
        image_suite = kind.image_suite(suite)
        if cold:
            started = time.monotonic()
            ensure_image(kind, image_suite, rebuild=True)
            cold_s = time.monotonic() - started
        started = time.monotonic()
        ensure_image(kind, image_suite)
        warm_s = time.monotonic() - started
        cold_text = f"cold {cold_s:6.1f} s  " if cold else ""
        print(f"  {name:<9} ({image_suite:<8}) {cold_text}warm {warm_s:5.2f} s")


def time_bringup(paths: list[Path], suite: str, runs: int) -> None:
    print(f"topology bring-up on {suite} (median of {runs}):")
    for path in paths:
        scenario = load_scenario(path)
        if suite not in scenario.suites:
            continue
        ups, downs = [], []
        for _ in range(runs):
            topology = Topology(scenario, suite=suite)
            started = time.monotonic()
            topology.up()
            ups.append(time.monotonic() - started)
            started = time.monotonic()
            topology.down()
            downs.append(time.monotonic() - started)
        print(
            f"  {scenario.name:<28} {len(scenario.nodes)} nodes  up {statistics.median(ups):5.2f} s "
            f"(min {min(ups):.2f}, max {max(ups):.2f})  down {statistics.median(downs):4.2f} s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", action="append", help="suites (default bookworm); comma lists and 'all' work")
    parser.add_argument("--cold", action="store_true", help="also time image builds from the base image")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("scenario", nargs="*", help="scenario names or files (default: all)")
    args = parser.parse_args()
    suites = parse_suites(args.suite)
    paths = [find_scenario(s) for s in args.scenario] if args.scenario else all_scenarios()
    for suite in suites:
        time_images(suite, args.cold)
        time_bringup(paths, suite, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
