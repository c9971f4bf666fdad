"""Readiness waits: the probes, run by bash on this host against loopback servers, and the
wait loop (in-node polling in a few long execs, exited containers, timeouts, aborts)."""

from __future__ import annotations

import shlex
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from kinds.kindtests import free_port, greeting_server, run_probe

from harness.core.container import ExecResult
from harness.core.waits import WAIT_CHUNK, DnsAnswerWait, SmtpBannerWait, in_node_loop, wait_ready
from harness.errors import HarnessError, WaitTimeout


class HostNode:
    """Stands for a node's container: commands run here (they only reach loopback)."""

    def __init__(self, status: str = "running") -> None:
        self.name = "node"
        self._status = status
        self.execs: list[list[str]] = []

    def status(self) -> str:
        return self._status

    def exec(self, command: list[str]) -> ExecResult:
        self.execs.append(command)
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        return ExecResult(done.returncode, done.stdout + done.stderr)


@pytest.fixture
def smtp_server() -> Iterator[int]:
    with greeting_server(b"220 mx.test ESMTP\r\n") as port:
        yield port


@pytest.fixture
def late_smtp_server() -> Iterator[int]:
    with greeting_server(b"220 mx.test ESMTP\r\n", after=1.0) as port:
        yield port


@pytest.fixture
def pop3_server() -> Iterator[int]:
    with greeting_server(b"+OK Dovecot ready.\r\n") as port:
        yield port


probe = run_probe


def test_the_banner_probe_wants_the_greeting(smtp_server: int, pop3_server: int) -> None:
    assert probe(SmtpBannerWait(smtp_server).probe()) == (0, "220 mx.test ESMTP")
    code, seen = probe(SmtpBannerWait(pop3_server).probe())
    assert (code, seen) == (1, "+OK Dovecot ready.")
    code, seen = probe(SmtpBannerWait(free_port()).probe())
    assert code == 1 and "Connection refused" in seen


NOERROR = """;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4242
;; flags: qr aa; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1"""


def answering(text: str, probe_command: str) -> str:
    """The probe with ``dig`` replaced by a function that prints ``text``."""
    return f"dig() {{ printf '%s\\n' {shlex.quote(text)}; }}; {probe_command}"


def test_the_dns_probe_wants_an_authoritative_answer() -> None:
    wait = DnsAnswerWait("example.test")
    assert probe(answering(NOERROR, wait.probe())) == (0, NOERROR.splitlines()[0])
    refused = NOERROR.replace("NOERROR", "REFUSED")
    assert probe(answering(refused, wait.probe())) == (1, refused.splitlines()[0])
    no_answer = NOERROR.replace("ANSWER: 1,", "ANSWER: 0,")
    assert probe(answering(no_answer, wait.probe()))[0] == 1
    assert probe(answering(NOERROR.replace("ANSWER: 1,", "ANSWER: 10,"), wait.probe()))[0] == 1
    assert probe(answering(";; connection timed out; no servers could be reached", wait.probe())) == (
        1,
        ";; connection timed out; no servers could be reached",
    )


def test_the_loop_polls_inside_until_the_probe_holds(late_smtp_server: int) -> None:
    node = HostNode()
    started = time.monotonic()
    wait_ready(node, SmtpBannerWait(late_smtp_server), 20, lambda: "", None)  # type: ignore[arg-type]
    assert 0.9 < time.monotonic() - started < WAIT_CHUNK + 1.5
    # a second of refused connects is one exec per WAIT_CHUNK, not one per try
    assert len(node.execs) <= 2


def test_a_wait_in_vain_says_what_it_saw_last() -> None:
    node = HostNode()
    port = free_port()
    with pytest.raises(WaitTimeout) as raised:
        wait_ready(node, SmtpBannerWait(port), 1, lambda: "the log tail", None)  # type: ignore[arg-type]
    text = str(raised.value)
    assert f"node: waited 1 s for an SMTP 220 greeting on port {port}, in vain; last seen: " in text
    assert "Connection refused" in text and "--- log tail ---\nthe log tail" in text
    assert len(node.execs) == 1


def test_an_exited_container_ends_the_wait_at_once() -> None:
    node = HostNode(status="exited")
    with pytest.raises(WaitTimeout, match="node: the container exited while waiting for an SMTP 220 greeting"):
        wait_ready(node, SmtpBannerWait(free_port()), 60, lambda: "", None)  # type: ignore[arg-type]
    assert node.execs == []


def test_an_abandoned_bring_up_ends_the_wait() -> None:
    abort = threading.Event()
    abort.set()
    with pytest.raises(
        HarnessError, match=r"no longer waiting for an SMTP 220 greeting on port \d+: the bring-up was given up"
    ):
        wait_ready(HostNode(), SmtpBannerWait(free_port()), 60, lambda: "", abort)  # type: ignore[arg-type]


def run(argv: list[str]) -> tuple[int, str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    return done.returncode, (done.stdout + done.stderr).strip()


def test_the_loop_gives_the_last_output_and_its_verdict() -> None:
    assert run(in_node_loop("echo no; false", 0.2)) == (1, "no")
    assert run(in_node_loop("echo yes", 5)) == (0, "yes")
    started = time.monotonic()
    assert run(in_node_loop("echo no; false", 0.5, interval=0.05))[0] == 1
    assert 0.4 < time.monotonic() - started < 3
