"""Run the topology suite N times in a row and print, per test and per run, what failed.

    python benchmarks/soak.py --runs 10 --suite bookworm [-- extra pytest args]

Each run is the README's topology command (pytest over tests/topology and scenarios with
the pytest-xdist workers of `make test`); a test that failed in any run is listed with the
runs it failed in, and each failure's text is kept (``--keep DIR``, default
``reports/soak``: one JUnit file per run, and ``failures.txt``). Then the slowest tests,
each with its median, min and max time over the runs (``--slowest N``). A failure found
here is a bug to fix, not a retry to add.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path


def one_run(
    suite: str, jobs: int, extra: list[str], junit: Path
) -> tuple[float, dict[str, str], dict[str, str], dict[str, float]]:
    """(seconds, test id -> outcome, test id -> failure text, test id -> seconds) of one
    full run."""
    started = time.monotonic()
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(jobs), "--dist", "loadgroup",
        "tests/topology", "scenarios", "--mta-suite", suite, f"--junitxml={junit}", *extra,
    ]  # fmt: skip
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    outcomes: dict[str, str] = {}
    texts: dict[str, str] = {}
    times: dict[str, float] = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = f"{case.get('classname')}::{case.get('name')}"
            times[name] = float(case.get("time") or 0.0)
            problems = [e for e in (case.find("failure"), case.find("error")) if e is not None]
            skipped = case.find("skipped") is not None
            outcomes[name] = "failed" if problems else "skipped" if skipped else "passed"
            if problems:
                texts[name] = "\n".join(f"{e.get('message', '')}\n{e.text or ''}" for e in problems)
    return seconds, outcomes, texts, times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--suite", default="bookworm", help="bullseye, bookworm, trixie, a comma list or all")
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=Path("reports/soak"), help="where runs' results are kept")
    parser.add_argument("--slowest", type=int, default=15, help="how many of the slowest tests to list")
    parser.add_argument("extra", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args()
    failures: dict[str, list[int]] = collections.defaultdict(list)
    durations: dict[str, list[float]] = collections.defaultdict(list)
    args.keep.mkdir(parents=True, exist_ok=True)
    with (args.keep / "failures.txt").open("w") as kept:
        for run in range(1, args.runs + 1):
            junit = args.keep / f"run-{run}.xml"
            seconds, outcomes, texts, times = one_run(args.suite, args.jobs, args.extra, junit)
            for name, took in times.items():
                durations[name].append(took)
            failed = sorted(name for name, outcome in outcomes.items() if outcome == "failed")
            for name in failed:
                failures[name].append(run)
                kept.write(f"===== run {run}: {name}\n{texts[name]}\n\n")
                kept.flush()
            passed = sum(o == "passed" for o in outcomes.values())
            print(
                f"run {run:>2}: {passed} passed, {len(failed)} failed, {len(outcomes)} tests in {seconds:.0f} s",
                flush=True,
            )
            for name in failed:
                print(f"         failed: {name}", flush=True)
    print(f"\nthe {args.slowest} slowest tests (seconds: median, min-max over the runs; each on one worker)")
    slowest = sorted(durations.items(), key=lambda item: statistics.median(item[1]), reverse=True)
    for name, took in slowest[: args.slowest]:
        print(f"  {statistics.median(took):6.1f}  {min(took):6.1f}-{max(took):<6.1f} {name}")
    print(f"\n{len(failures)} test(s) failed in at least one of {args.runs} runs")
    for name, runs in sorted(failures.items()):
        print(f"  {name}: runs {', '.join(map(str, runs))}")
    if failures:
        print(f"what each failure said: {args.keep / 'failures.txt'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
