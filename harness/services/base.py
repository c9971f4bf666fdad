"""What a kind of node is to the harness: how its configuration is rendered and applied,
how readiness is checked, and how its log, queue and mailboxes are read.

A new MTA is a new module with a subclass of :class:`Service`, registered in
``harness/services/__init__.py``; nothing in the core changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from harness.core.container import NodeContainer
from harness.core.waits import Wait
from harness.observe.queue import QueueEntry
from harness.render.common import NodeConfig
from harness.scenario.model import Node, Scenario


class Service:
    kind: str = ""
    image_kind: str = ""
    log_path: str = ""
    waits_timeout: float = 60.0
    renderer: Callable[[Scenario, Node], NodeConfig]

    def image_suite(self, suite: str) -> str:
        """The suite whose image this kind uses (the sink is not under test: one suite)."""
        return suite

    def render(self, scenario: Scenario, node: Node) -> NodeConfig:
        return type(self).renderer(scenario, node)

    def after_setup(self, container: NodeContainer, node: Node) -> None:
        """A hook for steps that need the output of the setup commands."""

    def waits(self, node: Node) -> list[Wait]:
        return []

    def read_log(self, container: NodeContainer) -> str:
        return container.read_file(self.log_path) if self.log_path else ""

    def version(self, container: NodeContainer) -> str:
        return ""

    # MTA operations; kinds that are not MTAs leave them unimplemented.
    def submit_command(self, mail_from: str, recipients: list[str], message_path: str) -> list[str]:
        raise NotImplementedError(f"{self.kind} nodes cannot submit mail")

    def flush_command(self) -> list[str]:
        raise NotImplementedError(f"{self.kind} nodes have no queue")

    def queue(self, container: NodeContainer) -> list[QueueEntry]:
        return []

    def queue_text(self, container: NodeContainer) -> str:
        return ""

    def mailbox_path(self, user: str) -> str:
        return f"/var/mail/{user}"


def first_match(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    return match.group(1) if match else ""
