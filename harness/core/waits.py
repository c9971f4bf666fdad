"""Waiting without sleeping blindly: poll a check until it holds, or fail saying why.

A timeout names what was waited for, where, for how long, the last state seen, and the
tail of the node's log. A wait stops at once when the container has exited.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

from harness.core.container import NodeContainer
from harness.errors import HarnessError, WaitTimeout

T = TypeVar("T")


@dataclass
class Poll(Generic[T]):
    """The outcome of one try: whether it holds, the value seen, and a description of it."""

    done: bool
    value: T
    state: str = ""


def poll_until(
    check: Callable[[], Poll[T]], timeout: float, interval: float = 0.1, max_interval: float = 1.0
) -> Poll[T]:
    """Call ``check`` until it is done or ``timeout`` seconds passed; return the last result."""
    last: list[Poll[T]] = []

    def attempt() -> Poll[T]:
        result = check()
        last[:] = [result]
        return result

    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=interval, min=interval, max=max_interval),
        retry=retry_if_result(lambda r: not r.done),
        reraise=True,
    )
    try:
        return retrying(attempt)
    except RetryError:
        return last[0]


# A readiness wait polls inside the node, in one exec of at most this many seconds: a
# ``docker exec`` costs the engine tens of milliseconds of CPU, so polling through one exec
# per try (nine nodes, twenty tries a second) took as much CPU as the services' own start.
WAIT_CHUNK = 2.0
WAIT_INTERVAL = 0.05


class Wait(Protocol):
    """A readiness check of a node, passed to the node rather than inlined."""

    @property
    def description(self) -> str: ...

    def probe(self) -> str:
        """A bash command run inside the node: exit status 0 once ready; its output is what
        was seen (the last line is quoted when the wait fails)."""
        ...


def in_node_loop(probe: str, seconds: float, interval: float = WAIT_INTERVAL) -> list[str]:
    """The command that runs ``probe`` inside the node every ``interval`` seconds for up to
    ``seconds`` (bash's own clock, no process per try): exit 0 at the first success, 1 when
    the time is up; the probe's last output is printed."""
    micros = int(seconds * 1_000_000)
    script = (
        f"end=$(( ${{EPOCHREALTIME/./}} + {micros} )); "
        f"while :; do out=$({{ {probe}; }} 2>&1) && {{ printf '%s\\n' \"$out\"; exit 0; }}; "
        f"(( ${{EPOCHREALTIME/./}} < end )) || {{ printf '%s\\n' \"$out\"; exit 1; }}; sleep {interval}; done"
    )
    return ["bash", "-c", script]


@dataclass
class GreetingWait:
    """A server on ``port`` greets with a line that starts with ``prefix`` (checked from
    inside the node): SMTP's 220, POP3's +OK, IMAP's * OK."""

    port: int
    prefix: str
    what: str  # the greeting, for messages

    @property
    def description(self) -> str:
        return f"{self.what} on port {self.port}"

    def probe(self) -> str:
        return (
            f"exec 3<>/dev/tcp/127.0.0.1/{self.port} 2>&1 && read -t 3 line <&3; "
            f'echo "$line"; case "$line" in {shlex.quote(self.prefix)}*) exit 0;; esac; exit 1'
        )


@dataclass
class SmtpBannerWait(GreetingWait):
    """The node's SMTP server greets with 220 on ``port``."""

    port: int = 25
    prefix: str = "220"
    what: str = "an SMTP 220 greeting"


@dataclass
class DnsAnswerWait:
    """The node's DNS server answers SOA queries for ``zone`` authoritatively."""

    zone: str = "."

    @property
    def description(self) -> str:
        return f"a DNS answer to 'SOA {self.zone}'"

    def probe(self) -> str:
        query = f"dig +norecurse +time=1 +tries=1 @127.0.0.1 {shlex.quote(self.zone)} SOA 2>&1"
        return (
            f'out=$({query}); echo "$out" | grep -m1 "status:" || echo "${{out:-no answer}}" | tail -n 1; '
            'case "$out" in *"status: NOERROR"*) ;; *) exit 1;; esac; '
            'case "$out" in *"ANSWER: 1,"*) exit 0;; esac; exit 1'
        )


def wait_ready(
    container: NodeContainer,
    wait: Wait,
    timeout: float,
    log_tail: Callable[[], str],
    abort: threading.Event | None = None,
) -> float:
    """Block until ``wait`` holds in ``container``; return the seconds it took.

    The polling runs inside the node, in exec calls of at most ``WAIT_CHUNK`` seconds;
    between them the container's state is looked at (an exited container ends the wait at
    once) and ``abort`` (a bring-up given up elsewhere ends it within a chunk)."""
    started = time.monotonic()
    state, tried = "no answer", False
    while True:
        status = container.status()
        if status not in ("running", "created"):
            raise WaitTimeout(
                f"{container.name}: the container {status} while waiting for {wait.description}\n"
                f"--- log tail ---\n{log_tail()}"
            )
        left = timeout - (time.monotonic() - started)
        if left <= 0 or (tried and left < WAIT_INTERVAL):
            raise WaitTimeout(
                f"{container.name}: waited {timeout:.0f} s for {wait.description}, in vain; last seen: {state}\n"
                f"--- log tail ---\n{log_tail()}"
            )
        if abort is not None and abort.is_set():
            raise HarnessError(f"{container.name}: no longer waiting for {wait.description}: the bring-up was given up")
        result = container.exec(in_node_loop(wait.probe(), min(WAIT_CHUNK, left)))
        tried = True
        lines = result.output.strip().splitlines()
        state = (lines[-1].strip()[-200:] if lines else "") or "no answer"
        if result.ok:
            return time.monotonic() - started
        if result.code not in (0, 1):  # the exec itself failed (a container not running yet)
            time.sleep(WAIT_INTERVAL)
