"""Capture sinks and plain clients (the same image)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.core.container import NodeContainer
from harness.core.waits import SmtpBannerWait, Wait
from harness.render import sink as render_sink
from harness.scenario.model import DEFAULT_SUITE, Node
from harness.services.base import Service

AGENT_SOURCE = Path(__file__).resolve().parent.parent / "agent"


class SinkService(Service):
    kind = "sink"
    image_kind = "sink"
    log_path = render_sink.SESSION_LOG
    required_tools = (*Service.required_tools, "python3")
    renderer = staticmethod(render_sink.render)

    def prepare(self, container: NodeContainer) -> None:
        """The agent programs travel with the harness, so any image with aiosmtpd works."""
        files = [(f"{render_sink.AGENT}/{p.name}", p.read_bytes(), 0o644) for p in sorted(AGENT_SOURCE.glob("*.py"))]
        container.put_files(files)

    def missing_tools(self, container: NodeContainer) -> list[str]:
        missing = super().missing_tools(container)
        if not missing:
            check = container.exec(["python3", "-c", "import aiosmtpd.smtp, dns.query"])
            if not check.ok:
                missing.append("python3 modules aiosmtpd and dnspython")
        return missing

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
        return (
            "aiosmtpd "
            + container.exec(["python3", "-c", "import aiosmtpd; print(aiosmtpd.__version__)"]).output.strip()
        )


class ClientService(SinkService):
    kind = "client"

    def waits(self, node: Node) -> list[Wait]:
        return []
