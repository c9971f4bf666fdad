"""Print image build times (cold and warm) per kind and suite, and topology bring-up times
(median of N) per scenario, side by side with the floor: the slowest of the scenario's
kinds started alone, the plain way, from ``docker run`` to ready; and beside it, the
scenario's nodes all started that plain way at once (stock configuration, no network): what
that many containers cost the engine and the daemons on this machine before any of the
harness's work.

    python benchmarks/bringup.py --suite bookworm [--cold] [--runs 5] [--transcripts] [scenario ...]

--cold rebuilds each image without the engine's layer cache (from the Debian base image,
which is kept), so the build is timed as on a machine that never built it; without it, only
the warm path (hash check, image present) is timed. --transcripts times every scenario
twice, without and with SMTP transcripts (a packet capture sidecar beside each MTA and
sink), alternating the two, so that their difference is the cost of the captures. Run one benchmark at a time: on a
2-core machine anything else running changes the figures.

Figures on the 2-core development machine, bookworm, warm images, median of 5:

    what                                      smoke (4 nodes)       relayhost-sasl (9 nodes)
    one exec per readiness try, barrier       2.01 s (floor 0.46)   5.78 s
    readiness polled inside the node,         1.79 s (floor 0.37)   4.30 s
      each node up as its container exists

The bring-up is CPU-bound: the host's two cores are 1.55 (smoke) and 1.89 (relayhost-sasl)
busy while it comes up. Of relayhost-sasl's ~8 CPU-seconds, the node containers use ~4.6
(each Postfix ~0.8: ``postfix check`` 0.27, Debian's chroot copy 0.19, ``postfix start``
with its own checks 0.29) and the engine (container create and start, network endpoints,
exec, archive copies) most of the rest, about 0.4 per container. The goal of the
floor's 1.5x (smoke) and 2x (relayhost-sasl) is below what two cores can do when five Postfix
instances start at once (their setup and start alone are ~4 CPU-seconds, 2 s of both cores).

The second floor says so directly. On a fresh 2-core machine of the same kind (bookworm, warm
images, median of 5; its single-container floor 0.56 s): smoke comes up in 2.45 s, 4.36x the
single floor and 2.30x its 4 plain nodes started at once (1.06 s); relayhost-sasl in 5.97 s,
10.63x and 2.43x its 8 plain-startable nodes at once (2.46 s). That many stock containers,
doing nothing of the topology's (no network, no configuration, no DNS), already take 1.9x
(smoke) and 4.4x (relayhost-sasl) the single-container floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.core import engine
from harness.core.container import NodeContainer
from harness.core.images import ensure_image
from harness.core.waits import wait_ready
from harness.kinds import KINDS, Kind, image_kinds
from harness.scenario.catalog import all_scenarios, find_scenario
from harness.scenario.loader import load_scenario
from harness.scenario.model import Attachment, Node, parse_suites
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


def plain_start_seconds(kind: Kind[Any], suite: str) -> float:
    """``docker run`` of the kind's image with its stock configuration, until its own
    readiness wait holds (no network at all: the wait runs inside the container)."""
    image = ensure_image(kind, kind.image_suite(suite))
    hostname = f"floor-{kind.name}.example.test"
    node = Node("floor", kind.name, hostname, (Attachment("none", "10.0.0.2"),), kind.default_settings())  # type: ignore[arg-type]
    started = time.monotonic()
    container = engine.client().containers.run(
        image,
        ["sh", "-c", kind.plain_start],
        detach=True,
        hostname=hostname,
        network_mode="none",
        labels=engine.run_labels(engine.new_run_id(), "floor"),
    )
    try:
        handle = NodeContainer.existing(container, [])
        for wait in kind.plain_waits(node):
            wait_ready(handle, wait, 60, lambda: container.logs().decode("utf-8", "replace")[-2000:])
        return time.monotonic() - started
    finally:
        container.remove(force=True)


def plain_together_seconds(kinds: list[Kind[Any]], suite: str) -> float:
    """Every one of ``kinds`` (a scenario's nodes) started the plain way at once: from the
    first ``docker run`` to the last of them ready. What the engine and the daemons
    themselves cost for that many containers on this machine, with no configuration."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(kinds)) as pool:
        list(pool.map(lambda kind: plain_start_seconds(kind, suite), kinds))
    return time.monotonic() - started


def floors(suite: str, runs: int) -> dict[str, float]:
    """Each kind's plain start, median of ``runs``."""
    result = {}
    for name, kind in KINDS.items():
        if kind.plain_start:
            result[name] = statistics.median(plain_start_seconds(kind, suite) for _ in range(runs))
    print(f"floor on {suite} (docker run -> ready, stock config, median of {runs}):")
    for name, seconds in result.items():
        print(f"  {name:<9} {seconds:5.2f} s")
    return result


def host_busy() -> float:
    """CPU seconds this host has spent busy so far, all cores together (``/proc/stat``;
    meaningful when the engine runs on this host)."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def time_bringup(paths: list[Path], suite: str, runs: int, floor: dict[str, float], transcripts: bool = False) -> None:
    print(f"topology bring-up on {suite} (median of {runs}):")
    modes = (False, True) if transcripts else (False,)
    for path in paths:
        scenario = load_scenario(path)
        if suite not in scenario.suites:
            continue
        ups: dict[bool, list[float]] = {mode: [] for mode in modes}
        downs: dict[bool, list[float]] = {mode: [] for mode in modes}
        busy: dict[bool, list[float]] = {mode: [] for mode in modes}
        for _ in range(runs):
            for mode in modes:
                topology = Topology(scenario, suite=suite, transcripts=mode)
                topology.transcripts = mode  # the scenario's own key too: the figures are on vs off
                started, cpu = time.monotonic(), host_busy()
                topology.up()
                ups[mode].append(time.monotonic() - started)
                busy[mode].append((host_busy() - cpu) / ups[mode][-1])
                started = time.monotonic()
                topology.down()
                downs[mode].append(time.monotonic() - started)
        slowest = max((floor.get(n.kind, 0.0) for n in scenario.nodes), default=0.0)
        plain = [KINDS[n.kind] for n in scenario.nodes if KINDS[n.kind].plain_start]
        together = statistics.median(plain_together_seconds(plain, suite) for _ in range(runs)) if plain else 0.0
        for mode in modes:
            up = statistics.median(ups[mode])
            ratio = f"{up / slowest:4.2f}x the floor ({slowest:.2f} s)" if slowest else "no floor"
            if together:
                ratio += f", {up / together:4.2f}x its {len(plain)} plain nodes at once ({together:.2f} s)"
            label = scenario.name + (" +transcripts" if mode else "")
            print(
                f"  {label:<40} {len(scenario.nodes):>2} nodes  up {up:5.2f} s "
                f"(min {min(ups[mode]):.2f}, max {max(ups[mode]):.2f})  {ratio}  "
                f"down {statistics.median(downs[mode]):4.2f} s  "
                f"host CPU busy {statistics.median(busy[mode]):.2f} of {os.cpu_count()} cores while coming up"
            )
        if transcripts:
            cost = statistics.median(ups[True]) - statistics.median(ups[False])
            print(f"  {'':<40} transcripts add {cost:+.2f} s to the bring-up (medians)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", nargs="*", help="scenarios to time (default: smoke and relayhost-sasl)")
    parser.add_argument("--suite", action="append", help="suite(s): bullseye, bookworm, trixie or all")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="also time cold image builds")
    parser.add_argument("--no-images", action="store_true", help="skip the image timings")
    parser.add_argument(
        "--transcripts", action="store_true", help="time each scenario without and with SMTP transcripts"
    )
    args = parser.parse_args()
    paths = (
        [find_scenario(s) for s in args.scenario]
        if args.scenario
        else [p for p in all_scenarios() if p.stem in ("smoke", "relayhost-sasl")]
    )
    for suite in parse_suites(args.suite):
        if not args.no_images:
            time_images(suite, args.cold)
        floor = floors(suite, args.runs)
        time_bringup(paths, suite, args.runs, floor, transcripts=args.transcripts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
