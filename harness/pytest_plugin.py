"""pytest plugin: scenario files become test items, one per MTA suite; fixtures start
topologies for hand-written tests.

Options (each also an ini key and an environment variable, resolved once):

- ``--mta-suite`` / ``mta_suites`` / ``MTA_HARNESS_SUITES``: suites to run (comma separated or
  repeated; ``all`` for every suite). Default: bookworm.
- ``--keep-topology`` / ``keep_topology`` / ``MTA_HARNESS_KEEP``: leave a failed topology up.
- ``--mta-transcripts`` / ``mta_transcripts`` / ``MTA_HARNESS_TRANSCRIPTS``: record every SMTP
  session (packet captures); a failure report shows the dialogue of its message's hops.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError, ScenarioError
from harness.report import RESULTS_DIR, write_result
from harness.runner import RunResult, run_scenario
from harness.scenario.catalog import find_scenario
from harness.scenario.loader import load_scenario
from harness.scenario.model import Scenario, parse_suites
from harness.topology import Topology

SCENARIO_DIR_NAME = "scenarios"


@dataclass(frozen=True)
class PluginConfig:
    suites: tuple[str, ...]
    keep: bool
    scenarios_dir: Path
    results_dir: Path
    transcripts: bool = False


CONFIG_KEY = pytest.StashKey[PluginConfig]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mta-harness", "real MTA topologies in containers")
    group.addoption(
        "--mta-suite",
        action="append",
        dest="mta_suites",
        default=None,
        help="Debian suite(s) whose MTA versions to test: bullseye, bookworm, trixie or all "
        "(repeat or comma-separate; env MTA_HARNESS_SUITES; default bookworm)",
    )
    group.addoption(
        "--keep-topology",
        action="store_true",
        dest="keep_topology",
        default=None,
        help="leave a failed topology running to inspect it (env MTA_HARNESS_KEEP=1)",
    )
    group.addoption(
        "--mta-transcripts",
        action="store_true",
        dest="mta_transcripts",
        default=None,
        help="record every SMTP session with a packet capture beside each MTA and sink; failure reports "
        "show the dialogue of the failing message's hops (env MTA_HARNESS_TRANSCRIPTS=1)",
    )
    parser.addini("mta_suites", "Debian suites to test (comma separated)", default="")
    parser.addini("mta_transcripts", "record every SMTP session (packet captures)", type="bool", default=False)
    parser.addini("keep_topology", "leave failed topologies running", type="bool", default=False)
    group.addoption(
        "--mta-results",
        dest="mta_results",
        default=None,
        help="folder for per-scenario JSON results, read by 'mta-harness report' (default reports/results)",
    )
    parser.addini("mta_scenarios_dir", "folder of scenario files for the fixtures", default=SCENARIO_DIR_NAME)


def resolve_config(config: pytest.Config) -> PluginConfig:
    raw = config.getoption("mta_suites") or (
        [os.environ["MTA_HARNESS_SUITES"]] if os.environ.get("MTA_HARNESS_SUITES") else None
    )
    if raw is None:
        raw = [str(config.getini("mta_suites"))]
    keep = config.getoption("keep_topology")
    if keep is None:
        keep = os.environ.get("MTA_HARNESS_KEEP", "") in ("1", "true", "yes") or bool(config.getini("keep_topology"))
    transcripts = config.getoption("mta_transcripts")
    if transcripts is None:
        transcripts = os.environ.get("MTA_HARNESS_TRANSCRIPTS", "") in ("1", "true", "yes") or bool(
            config.getini("mta_transcripts")
        )
    scenarios_dir = Path(str(config.rootpath)) / str(config.getini("mta_scenarios_dir"))
    results = config.getoption("mta_results") or os.environ.get("MTA_HARNESS_RESULTS") or str(RESULTS_DIR)
    try:
        suites = parse_suites(raw)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    return PluginConfig(suites, bool(keep), scenarios_dir, Path(str(config.rootpath)) / results, bool(transcripts))


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "topology: starts real containers (needs a Docker engine)")
    config.addinivalue_line(
        "markers", "mta_subnets(*subnets): the subnets a hand-written topology test uses (keeps clashing tests apart)"
    )
    config.stash[CONFIG_KEY] = resolve_config(config)
    # SIGTERM unwinds like Ctrl-C, so that every topology is torn down.
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _terminate)


def pytest_report_header(config: pytest.Config) -> str:
    plugin = config.stash[CONFIG_KEY]
    return (
        f"mta-harness: suites {', '.join(plugin.suites)}"
        + (" (keeping failed topologies)" if plugin.keep else "")
        + (" (SMTP transcripts on)" if plugin.transcripts else "")
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".yaml" and file_path.parent.name == SCENARIO_DIR_NAME:
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            scenario = load_scenario(self.path)
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        plugin = self.config.stash[CONFIG_KEY]
        for suite in plugin.suites:
            if suite in scenario.suites:
                item = ScenarioItem.from_parent(self, name=f"{scenario.name}[{suite}]", scenario=scenario, suite=suite)
                item.add_marker(pytest.mark.topology)
                item.add_marker(pytest.mark.mta_subnets(*(str(n.subnet) for n in scenario.networks)))
                yield item


class ScenarioFailed(Exception):
    def __init__(self, result: RunResult) -> None:
        super().__init__(result.report())
        self.result = result


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, suite: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.suite = suite

    def runtest(self) -> None:
        plugin = self.config.stash[CONFIG_KEY]
        result = run_scenario(self.scenario, self.suite, keep_on_failure=plugin.keep, transcripts=plugin.transcripts)
        self.user_properties.append(("versions", result.versions))
        write_result(result, plugin.results_dir)  # a failure's picture is named in the report
        self.add_report_section("call", "scenario", result.report())
        if not result.passed:
            raise ScenarioFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.result.report()
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.scenario.name} on {self.suite}"


def subnet_groups(items: list[tuple[str, list[str]]]) -> dict[str, str]:
    """Group tests whose subnets overlap: such topologies cannot be up at the same time.

    Returns test id -> group name (the group's lowest subnet), for pytest-xdist's
    ``--dist loadgroup``: each group runs on one worker, different groups in parallel.
    """
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    nets = {net: ipaddress.IPv4Network(net) for _, subnets in items for net in subnets}
    for a, b in itertools.combinations(sorted(nets), 2):
        if nets[a].overlaps(nets[b]):
            parent[find(a)] = find(b)
    for _, subnets in items:
        for net in subnets[1:]:
            parent[find(subnets[0])] = find(net)
    members: dict[str, list[str]] = {}
    for net in nets:
        members.setdefault(find(net), []).append(net)
    names = {root: "net-" + min(group, key=lambda n: nets[n]) for root, group in members.items()}
    return {test: names[find(subnets[0])] for test, subnets in items if subnets}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    declared = [(item.nodeid, [str(a) for m in item.iter_markers("mta_subnets") for a in m.args]) for item in items]
    groups = subnet_groups(declared)
    for item in items:
        if item.nodeid in groups:
            item.add_marker(pytest.mark.xdist_group(name=groups[item.nodeid]))


# ---- fixtures -------------------------------------------------------------------------------
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "mta_suite" in metafunc.fixturenames:
        suites = metafunc.config.stash[CONFIG_KEY].suites
        metafunc.parametrize("mta_suite", suites, ids=list(suites), scope="function")


@pytest.fixture
def mta_harness_config(request: pytest.FixtureRequest) -> PluginConfig:
    return request.config.stash[CONFIG_KEY]


@pytest.fixture
def topology_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Topology]]:
    """Start topologies by scenario name or path; every one is torn down after the test."""
    plugin = request.config.stash[CONFIG_KEY]
    started: list[Topology] = []

    def start(scenario: str | Path | Scenario, suite: str | None = None) -> Topology:
        try:
            model = (
                scenario
                if isinstance(scenario, Scenario)
                else load_scenario(find_scenario(scenario, plugin.scenarios_dir))
            )
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
        topology = Topology(model, suite=suite or plugin.suites[0], keep=False, transcripts=plugin.transcripts)
        started.append(topology)
        topology.up()
        return topology

    yield start
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for topology in reversed(started):
        if plugin.keep and failed:
            print(f"\nkept for inspection:\n{topology.describe()}")
            topology.subnet_lock.release()
            continue
        topology.down()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"rep_{report.when}", report)  # type: ignore[attr-defined]
    return report
