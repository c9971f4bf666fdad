"""Helpers shared by the kinds' unit tests (see ``conftest.py`` here)."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.kinds import KINDS
from harness.observe import logs
from harness.observe.logs import Delivery, LogLine
from harness.scenario.loader import load_scenario

SUITES = ("bullseye", "bookworm", "trixie")
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def greeting_server(line: bytes, after: float = 0.0) -> Iterator[int]:
    """A loopback TCP server that listens after ``after`` seconds and greets every
    connection with ``line``; its port."""
    port = free_port()
    stop = threading.Event()
    listening = threading.Event()

    def serve() -> None:
        time.sleep(after)
        with socket.create_server((LOOPBACK, port)) as server:
            listening.set()
            server.settimeout(0.1)
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.sendall(line)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    if not after:  # listening now, as the caller takes it to be: no race with the thread's bind
        assert listening.wait(5), f"the greeting server did not listen on port {port}"
    try:
        yield port
    finally:
        stop.set()
        thread.join()


def run_probe(command: str) -> tuple[int, str]:
    """A wait's probe run by bash on this host (it reaches loopback only): status, output."""
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=10, check=False)
    return done.returncode, (done.stdout + done.stderr).strip()


# --- settings: malformed scenario files --------------------------------------------------------

# file, line, key path, problem (a stable part of it)
BadCase = tuple[str, int, str, str]


def bad_case_ids(cases: list[BadCase]) -> list[str]:
    return [c[0].removesuffix(".yaml") for c in cases]


def assert_bad_file(folder: Path, file: str, line: int, path: str, problem: str, fix: str | None = None) -> None:
    """Loading ``folder/file`` fails at that file, line and key path, with that problem (and
    that fix, when given)."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder / file)
    error = info.value
    assert (Path(error.file).name, error.line, error.path) == (file, line, path)
    assert problem in error.problem
    assert str(error).startswith(f"{error.file}:{line}:")
    if fix is not None:
        assert error.fix == fix


def assert_every_bad_file_is_in(folder: Path, cases: list[BadCase]) -> None:
    assert sorted(p.name for p in folder.glob("*.yaml")) == sorted(c[0] for c in cases)


# --- mail logs ---------------------------------------------------------------------------------


def read_log(folder: Path, suite: str, mta: str) -> list[LogLine]:
    """A log under ``folder`` (``<suite>-<mta>.log``), read by its MTA kind's own parser."""
    return KINDS[mta].parse_log((folder / f"{suite}-{mta}.log").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Expected:
    """One distinct delivery outcome; ``reason`` is a regular expression (full match)."""

    recipients: tuple[str, ...]
    relay: str
    dsn: str
    status: str
    reason: str

    def matches(self, delivery: Delivery) -> bool:
        return (delivery.recipients, delivery.relay, delivery.dsn, delivery.status) == (
            self.recipients,
            self.relay,
            self.dsn,
            self.status,
        ) and re.fullmatch(self.reason, delivery.reason) is not None


Deliveries = Callable[[list[LogLine]], list[Delivery]]


def deliveries_of(deliveries: Deliveries, lines: list[LogLine], message_id: str) -> list[Delivery]:
    """The deliveries of one message, by ``deliveries`` (the parser of the MTA that wrote the lines)."""
    qids = logs.queue_ids_for(lines, message_id)
    return [d for d in deliveries(lines) if d.qid in qids]


def assert_deliveries_of_each_message(
    deliveries: Deliveries, lines: list[LogLine], expected: dict[str, list[Expected]]
) -> None:
    """Every message has deliveries, each like one expected, and every expected one is there."""
    for message_id, wanted in expected.items():
        found = deliveries_of(deliveries, lines, message_id)
        assert found, f"no delivery of {message_id}"
        unmatched = [d for d in found if not any(e.matches(d) for e in wanted)]
        assert not unmatched, f"{message_id}: unexpected {unmatched}"
        missing = [e for e in wanted if not any(e.matches(d) for d in found)]
        assert not missing, f"{message_id}: no delivery like {missing} in {found}"
