"""Capture sinks and plain clients (the same image)."""

from __future__ import annotations

import json
from typing import Any

from harness.core.container import NodeContainer
from harness.core.waits import SmtpBannerWait, Wait
from harness.render import sink as render_sink
from harness.scenario.model import DEFAULT_SUITE, Node
from harness.services.base import Service


class SinkService(Service):
    kind = "sink"
    image_kind = "sink"
    log_path = render_sink.SESSION_LOG
    renderer = staticmethod(render_sink.render)

    def image_suite(self, suite: str) -> str:
        return DEFAULT_SUITE

    def waits(self, node: Node) -> list[Wait]:
        assert node.sink is not None
        return [SmtpBannerWait(port) for port in node.sink.ports]

    def captures(self, container: NodeContainer) -> list[dict[str, Any]]:
        text = container.exec(["cat", render_sink.CAPTURES]).output
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def reset(self, container: NodeContainer) -> None:
        container.exec(["sh", "-c", f": > {render_sink.CAPTURES}"])

    def version(self, container: NodeContainer) -> str:
        return "aiosmtpd " + container.exec(["python3", "-c", "import aiosmtpd; print(aiosmtpd.__version__)"]).output.strip()


class ClientService(SinkService):
    kind = "client"

    def waits(self, node: Node) -> list[Wait]:
        return []
