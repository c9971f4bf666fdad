"""Nothing of the harness remains after a run that passes, one that fails, and one
interrupted with SIGINT while starting; a killed run's leftovers go at the next start."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.core import engine
from harness.core.images import ensure_image
from harness.kinds import KINDS
from harness.runner import run_scenario
from harness.scenario.loader import load_scenario

pytestmark = [pytest.mark.topology, pytest.mark.mta_subnets("10.209.0.0/24")]

PF_NODE = "    hostname: pf.example.test\n"
NEVER_READY = "    postfix: {main: {master_service_disable: smtp/inet}}\n"
FAILING_STEP = """  - expect_not_captured: {message: from-postfix, at: mx, within: 2}
"""


@pytest.fixture(autouse=True)
def _images_ready() -> None:
    """Build images first, so that the timings below are those of a start, not of a build."""
    for kind in ("bind", "postfix", "sendmail", "sink"):
        ensure_image(KINDS[kind], "bookworm")


@pytest.fixture
def cli() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Start `mta-harness run`; whatever a test does, the process does not outlive it."""
    started: list[subprocess.Popen[str]] = []

    def start(path: Path) -> subprocess.Popen[str]:
        proc = _cli(path)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def _cli(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        # its results beside the scenario copy, not in the suite's results (the report's input)
        [
            sys.executable,
            "-m",
            "harness.cli",
            "--dir",
            str(path.parent),
            "run",
            str(path),
            "--results",
            str(path.parent),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Ctrl-C's default action, as in a terminal: a suite started in the background by a
        # non-interactive shell ignores SIGINT, and the CLI would inherit that and never see it.
        preexec_fn=_sigint_as_in_a_terminal,
    )


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_objects(
    labelled_objects: Callable[[str], list[str]], name: str, proc: subprocess.Popen[str], timeout: float = 120
) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = labelled_objects(name)
        if any(not n.endswith("-net") for n in found):
            return found
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"the run ended before its containers existed:\n{output}")
        time.sleep(0.1)
    raise AssertionError(f"no container of {name} appeared within {timeout} s")


def test_nothing_remains_after_a_passing_run(
    scenario_copy: Callable[..., Path], labelled_objects: Callable[[str], list[str]]
) -> None:
    scenario = load_scenario(scenario_copy())
    result = run_scenario(scenario, "bookworm")
    assert result.passed, result.report()
    assert labelled_objects(scenario.name) == []


def test_nothing_remains_after_a_failing_run(
    scenario_copy: Callable[..., Path], labelled_objects: Callable[[str], list[str]]
) -> None:
    scenario = load_scenario(scenario_copy(extra=FAILING_STEP))
    result = run_scenario(scenario, "bookworm")
    assert not result.passed
    report = result.report()
    assert "was captured at mx, but nothing was expected" in report
    assert "=== diagnostics ===" in report and "log lines of message 'from-postfix'" in report
    assert labelled_objects(scenario.name) == []


def test_nothing_remains_after_sigint_during_start(
    scenario_copy: Callable[..., Path],
    cli: Callable[[Path], subprocess.Popen[str]],
    labelled_objects: Callable[[str], list[str]],
) -> None:
    # pf's smtpd never listens (Postfix's own switch): its readiness wait cannot hold, so
    # the start is still under way whenever the signal comes, however fast the rest is.
    path = scenario_copy()
    text = path.read_text()
    path.write_text(text.replace(PF_NODE, PF_NODE + NEVER_READY))
    assert NEVER_READY in path.read_text()
    name = path.stem
    proc = cli(path)
    _wait_for_objects(labelled_objects, name, proc)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "interrupted; topologies were removed" in output
    assert labelled_objects(name) == []


def test_a_killed_run_is_reaped_at_the_next_start(
    scenario_copy: Callable[..., Path],
    cli: Callable[[Path], subprocess.Popen[str]],
    labelled_objects: Callable[[str], list[str]],
) -> None:
    path = scenario_copy()
    name = path.stem
    proc = cli(path)
    _wait_for_objects(labelled_objects, name, proc)
    proc.kill()  # SIGKILL: no teardown can run
    proc.communicate(timeout=30)
    assert labelled_objects(name) != []
    engine.reap_orphans()  # what every start does first
    assert labelled_objects(name) == []


def test_an_invalid_scenario_starts_nothing(tmp_path: Path, labelled_objects: Callable[[str], list[str]]) -> None:
    path = tmp_path / "t-invalid.yaml"
    path.write_text(
        "networks: {net: {subnet: 10.209.0.0/24}}\nnodes:\n  a: {kind: postfix, hostname: a.example.test, networks: {net: 10.208.0.5}}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert f"{path}:3: nodes.a.networks.net: 10.208.0.5 is not inside network 'net' (10.209.0.0/24)" in proc.stderr
    assert labelled_objects("t-invalid") == []
