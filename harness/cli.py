"""The ``mta-harness`` command: a thin layer over the same objects the pytest plugin uses."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from harness.core import engine
from harness.core.images import ensure_image
from harness.errors import HarnessError
from harness.kinds import image_kinds
from harness.relaycheck import check_relay
from harness.report import RESULTS_DIR, load_results, write_report, write_result
from harness.runner import run_scenario
from harness.scenario.catalog import DEFAULT_DIR, all_scenarios, find_scenario
from harness.scenario.loader import load_scenario
from harness.scenario.model import parse_suites
from harness.topology import Topology
from harness.topology.capture import CAPTURE_IMAGE


def _suites(values: list[str] | None) -> tuple[str, ...]:
    try:
        return parse_suites(values)
    except ValueError as exc:
        raise HarnessError(str(exc)) from None


def cmd_images_build(args: argparse.Namespace) -> int:
    images = image_kinds()
    for suite in _suites(args.suite):
        for name in [k for k in args.kind if k in images] if args.kind else sorted(images):
            kind = images[name]
            started = time.monotonic()
            tag = ensure_image(kind, kind.image_suite(suite))
            print(f"{name:<9} {suite:<9} {tag}  ({time.monotonic() - started:.1f} s)")
    if not args.kind or CAPTURE_IMAGE.image in args.kind:  # the transcripts' sidecar: one suite
        started = time.monotonic()
        tag = ensure_image(CAPTURE_IMAGE, CAPTURE_IMAGE.suite)
        print(f"{CAPTURE_IMAGE.image:<9} {CAPTURE_IMAGE.suite:<9} {tag}  ({time.monotonic() - started:.1f} s)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    for path in all_scenarios(Path(args.dir)):
        try:
            scenario = load_scenario(path)
        except HarnessError as exc:
            print(f"{path.stem:<32} INVALID: {exc}")
            continue
        print(f"{scenario.name:<32} {','.join(scenario.suites):<26} {scenario.description}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    failed = 0
    for name in args.scenario:
        try:
            scenario = load_scenario(find_scenario(name, Path(args.dir)))
            print(f"ok: {scenario.name} ({len(scenario.nodes)} nodes, {len(scenario.steps)} steps)")
        except HarnessError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def cmd_up(args: argparse.Namespace) -> int:
    scenario = load_scenario(find_scenario(args.scenario, Path(args.dir)))
    topology = Topology(scenario, suite=_suites(args.suite)[0], keep=True, transcripts=args.transcripts)
    topology.up()
    print(topology.describe())
    print(f"\nThe topology is sealed (internal networks only). Remove it with: mta-harness down {scenario.name}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    name = args.scenario
    if name is not None and Path(name).is_file():
        name = load_scenario(Path(name)).name  # 'up' was given the file: its topology is labelled by name
    removed = engine.remove_scenario(name)
    print(f"removed {len(removed)} container(s)/network(s)" + (": " + ", ".join(removed) if removed else ""))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    paths = (
        [find_scenario(name, Path(args.dir)) for name in args.scenario]
        if args.scenario
        else all_scenarios(Path(args.dir))
    )
    scenarios = [load_scenario(path) for path in paths]  # every file is validated before anything starts
    results = []
    for scenario in scenarios:
        for suite in _suites(args.suite):
            if suite not in scenario.suites:
                print(f"--- {scenario.name} does not run on {suite}: skipped")
                continue
            result = run_scenario(scenario, suite, keep_on_failure=args.keep, transcripts=args.transcripts)
            write_result(result, Path(args.results))
            print(result.report(details=args.details))
            print()
            results.append(result)
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


def cmd_relay_check(args: argparse.Namespace) -> int:
    scenario = load_scenario(find_scenario(args.scenario, Path(args.dir)))
    topology = Topology.attach(scenario)
    report = check_relay(topology, args.client, args.server, args.domain, within=args.within, port=args.port)
    print(report.text())
    return 1 if report.open else 0


def cmd_report(args: argparse.Namespace) -> int:
    results_dir = Path(args.results)
    if args.run:
        for old in results_dir.glob("*--*.json"):
            old.unlink()
        args.scenario, args.keep, args.details = [], False, False
        cmd_run(args)
    results = load_results(results_dir)
    if not results:
        raise HarnessError(f"no results in {results_dir}: run scenarios first (mta-harness run, pytest) or pass --run")
    md, page = write_report(results, Path(args.out))
    print(f"wrote {md} and {page} from {len(results)} result(s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mta-harness", description="Real MTAs in containers, wired into mail topologies."
    )
    parser.add_argument("--dir", default=str(DEFAULT_DIR), help="the scenarios folder (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the harness does")
    sub = parser.add_subparsers(dest="command", required=True)

    images = sub.add_parser("images", help="node images").add_subparsers(dest="images_command", required=True)
    build = images.add_parser("build", help="build missing images (bootstrapping the base without a registry)")
    build.add_argument("--suite", action="append", help="bullseye, bookworm, trixie or all (default bookworm)")
    build.add_argument("--kind", action="append", choices=sorted([*image_kinds(), CAPTURE_IMAGE.image]))
    build.set_defaults(func=cmd_images_build)

    sub.add_parser("list", help="list the scenarios").set_defaults(func=cmd_list)

    check = sub.add_parser("check", help="validate scenario files without starting anything")
    check.add_argument("scenario", nargs="+")
    check.set_defaults(func=cmd_check)

    up = sub.add_parser("up", help="start a topology and leave it running")
    up.add_argument("scenario")
    up.add_argument("--suite", action="append")
    up.add_argument(
        "--transcripts", action="store_true", help="capture every SMTP session (read the pcap files in the sidecars)"
    )
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="remove the topologies of a scenario (all when none is named)")
    down.add_argument("scenario", nargs="?", help="a scenario's name or file")
    down.set_defaults(func=cmd_down)

    run = sub.add_parser("run", help="run scenarios: start, execute the steps, judge, tear down")
    run.add_argument("scenario", nargs="*", help="names or files (default: every scenario)")
    run.add_argument("--suite", action="append", help="bullseye, bookworm, trixie or all (repeatable)")
    run.add_argument("--keep", action="store_true", help="leave a failed topology running to inspect it")
    run.add_argument("--details", action="store_true", help="show what every expectation observed, passing ones too")
    run.add_argument(
        "--transcripts",
        action="store_true",
        help="record every SMTP session (a packet capture beside each MTA and sink; adds to the bring-up): "
        "a failure shows the dialogue of its message's hops, --details every session",
    )
    run.add_argument("--results", default=str(RESULTS_DIR), help="where to write JSON results (default: %(default)s)")
    run.set_defaults(func=cmd_run)

    relay = sub.add_parser("relay-check", help="run the open-relay battery against a node of a running topology")
    relay.add_argument("scenario", help="the scenario whose topology is up ('mta-harness up')")
    relay.add_argument("server", help="the node under test")
    relay.add_argument("--from", dest="client", required=True, help="the client or sink node to test from")
    relay.add_argument("--domain", required=True, help="the remote domain the forms try to reach")
    relay.add_argument("--port", type=int, default=25)
    relay.add_argument("--within", type=float, default=10.0, help="seconds to watch for relayed messages")
    relay.set_defaults(func=cmd_relay_check)

    report = sub.add_parser("report", help="behaviour x version table (Markdown and HTML) from results")
    report.add_argument("--results", default=str(RESULTS_DIR), help="folder of JSON results (default: %(default)s)")
    report.add_argument(
        "--out", default="docs/behaviour-by-version", help="output path without suffix (default: %(default)s)"
    )
    report.add_argument("--run", action="store_true", help="first run every scenario on the given suites")
    report.add_argument("--suite", action="append", help="with --run: suites (default bookworm; 'all')")
    report.set_defaults(func=cmd_report)
    return parser


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args))
    except HarnessError as exc:
        print(f"mta-harness: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mta-harness: interrupted; topologies were removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
