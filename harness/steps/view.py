"""What steps see of a running topology. :class:`harness.topology.Topology` is one; the
unit tests' fake topology (scripted captures, logs, queues, transcripts) is another, so
every step's pass and fail paths are tested without Docker."""

from __future__ import annotations

from typing import Any, Protocol

from harness.core.container import ExecResult
from harness.kinds.base import AddressTest
from harness.observe.logs import Delivery, LogLine
from harness.observe.queue import QueueEntry
from harness.scenario.model import Scenario
from harness.topology.fetching import Fetched
from harness.topology.sending import Sent


class NodeView(Protocol):
    @property
    def name(self) -> str: ...

    def run(self, command: str) -> ExecResult: ...

    def log_text(self) -> str: ...

    def log_lines(self) -> list[LogLine]: ...

    def deliveries(self, message_id: str | None = None) -> list[Delivery]: ...

    def queue(self) -> list[QueueEntry]: ...

    def queue_text(self) -> str: ...

    def queued(self, message_id: str) -> list[QueueEntry]: ...

    def captures(self) -> list[dict[str, Any]]: ...

    def reset_captures(self) -> None: ...

    def mailbox(self, user: str) -> str: ...

    def address_test(self, address: str, rulesets: str | None = None) -> AddressTest: ...

    def flush(self) -> None: ...

    def stop(self) -> None: ...

    def start(self) -> None: ...

    def blackhole(self) -> None: ...

    def unblackhole(self) -> None: ...

    def refuse(self) -> None: ...

    def restore(self) -> None: ...

    def disconnect(self, network: str | None = None) -> None: ...

    def reconnect(self, network: str | None = None) -> None: ...


class TopologyView(Protocol):
    @property
    def scenario(self) -> Scenario: ...

    @property
    def sent(self) -> dict[str, Sent]: ...

    @property
    def fetched(self) -> dict[str, Fetched]: ...

    def node(self, name: str) -> NodeView: ...

    def sinks(self) -> list[str]: ...

    def node_at(self, address: str) -> str | None: ...

    def address_of(self, node_name: str) -> set[str]: ...

    def address_seen_from(self, node_name: str, seen_from: str, family: int = 4) -> str: ...

    def dns_query(self, name: str, rtype: str) -> dict[str, Any]: ...

    def send_batch(
        self,
        batch: str,
        source: str,
        server: str,
        messages: list[tuple[str, list[str], str | None, str | None]],
        port: int = 25,
    ) -> list[Sent]: ...

    def send(
        self,
        name: str,
        source: str,
        to: list[str],
        mail_from: str | None = None,
        server: str | None = None,
        server_ip: str | None = None,
        port: int = 25,
        helo: str | None = None,
        auth: dict[str, str] | None = None,
        starttls: bool = False,
        tls: str | None = None,
        client: str | None = None,
        subject: str | None = None,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Sent: ...

    def fetch(
        self,
        name: str,
        source: str,
        server: str,
        protocol: str,
        user: str,
        password: str,
        port: int | None = None,
        delete: bool = False,
    ) -> Fetched: ...
