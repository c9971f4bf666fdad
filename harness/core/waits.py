"""Waiting without sleeping blindly: poll a check until it holds, or fail saying why.

A timeout names what was waited for, where, for how long, the last state seen, and the
tail of the node's log. A wait stops at once when the container has exited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

from harness.core.container import NodeContainer
from harness.errors import WaitTimeout

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


class ContainerExited(Exception):
    pass


class Wait(Protocol):
    """A readiness check of a node, passed to the node rather than inlined."""

    @property
    def description(self) -> str: ...

    def check(self, container: NodeContainer) -> Poll[str]: ...


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

    def check(self, container: NodeContainer) -> Poll[str]:
        script = f'exec 3<>/dev/tcp/127.0.0.1/{self.port} && read -t 3 line <&3 && echo "$line"'
        result = container.exec(["bash", "-c", script])
        line = result.output.strip()
        ok = result.ok and line.startswith(self.prefix)
        return Poll(ok, line, line or result.output.strip()[-200:] or "no answer")


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

    def check(self, container: NodeContainer) -> Poll[str]:
        result = container.exec(["dig", "+norecurse", "+time=1", "+tries=1", "@127.0.0.1", self.zone, "SOA"])
        ok = result.ok and "status: NOERROR" in result.output and "ANSWER: 1" in result.output
        status = next((ln for ln in result.output.splitlines() if "status:" in ln), result.output.strip()[-200:])
        return Poll(ok, result.output, status or "no answer")


def wait_ready(container: NodeContainer, wait: Wait, timeout: float, log_tail: Callable[[], str]) -> float:
    """Block until ``wait`` holds in ``container``; return the seconds it took."""
    started = time.monotonic()

    def check() -> Poll[str]:
        status = container.status()
        if status not in ("running", "created"):
            raise ContainerExited(status)
        return wait.check(container)

    try:
        result = poll_until(check, timeout, interval=0.05, max_interval=0.1)  # a start is noticed within 0.1 s
    except ContainerExited as exc:
        raise WaitTimeout(
            f"{container.name}: the container {exc} while waiting for {wait.description}\n"
            f"--- log tail ---\n{log_tail()}"
        ) from None
    if not result.done:
        raise WaitTimeout(
            f"{container.name}: waited {timeout:.0f} s for {wait.description}, in vain; last seen: {result.state}\n"
            f"--- log tail ---\n{log_tail()}"
        )
    return time.monotonic() - started
