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
    # Commands a node's image must have: checked before configuring, so that a user-supplied
    # image that lacks one fails with a list of what is missing.
    required_tools: tuple[str, ...] = ("sh", "cat", "cp", "pkill", "ip")
    renderer: Callable[[Scenario, Node], NodeConfig]

    def image_suite(self, suite: str) -> str:
        """The suite whose image this kind uses (the sink is not under test: one suite)."""
        return suite

    def render(self, scenario: Scenario, node: Node) -> NodeConfig:
        return type(self).renderer(scenario, node)

    def prepare(self, container: NodeContainer) -> None:
        """Put what the kind needs into the container before its tools are checked."""

    def missing_tools(self, container: NodeContainer) -> list[str]:
        tools = " ".join(self.required_tools)
        result = container.exec(["sh", "-c", f"for t in {tools}; do command -v $t >/dev/null 2>&1 || echo $t; done"])
        if result.code == 126 or "exec failed" in result.output:
            return ["sh"]
        return result.output.split()

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
