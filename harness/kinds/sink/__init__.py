"""Capture sinks: aiosmtpd records every message it accepts (``harness/agent/sink.py``).

The sink is the observation point, not a system under test: its image is built on one
suite. Sink nodes can also send test mail and ask DNS questions, as client nodes do.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.core.container import NodeContainer
from harness.core.waits import SmtpBannerWait, Wait
from harness.errors import StepError
from harness.kinds.base import BASE_TOOLS, CaptureSink, Kind, SmtpClient
from harness.kinds.sink import render, settings
from harness.kinds.sink.settings import SinkSettings
from harness.render.common import NodeConfig
from harness.scenario.model import DEFAULT_SUITE, Node, Scenario
from harness.scenario.reader import Reader
from harness.scenario.source import PathT

AGENT_SOURCE = Path(__file__).resolve().parent.parent.parent / "agent"


class AgentImage:
    """What sink and client nodes share: the image with aiosmtpd and dnspython, and the
    harness's agent programs, copied in at start so that any such image works."""

    image: ClassVar[str] = "sink"
    package_dir: ClassVar[Path] = Path(__file__).resolve().parent
    required_tools: ClassVar[tuple[str, ...]] = (*BASE_TOOLS, "python3")

    def image_files(self) -> list[tuple[str, bytes]]:
        return [(f"agent/{p.name}", p.read_bytes()) for p in sorted(AGENT_SOURCE.glob("*.py"))]

    def image_suite(self, suite: str) -> str:
        return DEFAULT_SUITE

    def prepare(self, container: NodeContainer) -> None:
        files = [(f"{render.AGENT}/{p.name}", p.read_bytes(), 0o644) for p in sorted(AGENT_SOURCE.glob("*.py"))]
        container.put_files(files)

    def missing_tools(self, container: NodeContainer) -> list[str]:
        missing = Kind.missing_tools(self, container)  # type: ignore[arg-type]
        if not missing:
            check = container.exec(["python3", "-c", "import aiosmtpd.smtp, dns.query"])
            if not check.ok:
                missing.append("python3 modules aiosmtpd and dnspython")
        return missing

    def version(self, container: NodeContainer) -> str:
        result = container.exec(["python3", "-c", "import aiosmtpd; print(aiosmtpd.__version__)"])
        return "aiosmtpd " + result.output.strip()

    def smtp_send_command(self, request_path: str) -> list[str]:
        return ["python3", f"{render.AGENT}/smtp_send.py", request_path]

    def dns_query_command(self, server: str, name: str, rtype: str) -> list[str]:
        return ["python3", f"{render.AGENT}/dns_query.py", server, name, rtype]

    def mail_fetch_command(self, request_path: str) -> list[str]:
        return ["python3", f"{render.AGENT}/mail_fetch.py", request_path]


@dataclass
class SmtpsBannerWait:
    """The sink greets with 220 inside TLS on ``port`` (SMTPS; checked from inside the node
    with its own Python, the certificate not verified)."""

    port: int = 465

    @property
    def description(self) -> str:
        return f"an SMTP 220 greeting inside TLS on port {self.port}"

    def probe(self) -> str:
        script = (
            "import socket, ssl\n"
            "context = ssl.create_default_context()\n"
            "context.check_hostname, context.verify_mode = False, ssl.CERT_NONE\n"
            f"with context.wrap_socket(socket.create_connection(('127.0.0.1', {self.port}), 3)) as s:\n"
            "    line = s.recv(512).decode('utf-8', 'replace').splitlines()[0]\n"
            "    print(line)\n"
            "    raise SystemExit(0 if line.startswith('220') else 1)\n"
        )
        # Python (and its TLS) only once the port takes connections: a refused try costs no process.
        return f"(exec 3<>/dev/tcp/127.0.0.1/{self.port}) 2>&1 && python3 -c {shlex.quote(script)} 2>&1 | tail -n 1; exit ${{PIPESTATUS[0]}}"


class SinkKind(AgentImage, Kind[SinkSettings], CaptureSink, SmtpClient):
    name = "sink"
    settings_key = "sink"
    settings_type = SinkSettings
    log_path = render.SESSION_LOG
    plain_start = "exec python3 -m aiosmtpd -n -l 0.0.0.0:25"

    def parse_settings(self, reader: Reader, path: PathT) -> SinkSettings:
        return settings.parse(reader, path)

    def render_settings(self, scenario: Scenario, node: Node, config: SinkSettings) -> NodeConfig:
        return render.render(scenario, node, config)

    def waits(self, node: Node) -> list[Wait]:
        config = self.settings(node)
        return [SmtpsBannerWait(p) if p in config.implicit_tls else SmtpBannerWait(p) for p in config.ports]

    def captures(self, container: NodeContainer, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Read from the container's filesystem, so a stopped sink's captures count too.

        An unreadable capture store is an error, never an empty list: every negative
        expectation would pass on it."""
        data = container.read_bytes(render.CAPTURES, since)
        if data is None:
            raise StepError(f"{container.name}: the capture store {render.CAPTURES} cannot be read")
        # Only whole lines: a capture being written is read at the next poll.
        end = data.rfind(b"\n") + 1
        records = [json.loads(line) for line in data[:end].splitlines() if line.startswith(b"{")]
        return records, since + end

    def may_check_authentication(self, node: Node) -> bool:
        return self.settings(node).authentication != "off"

    def reset_captures(self, container: NodeContainer) -> None:
        result = container.exec(["sh", "-c", f": > {render.CAPTURES}"])
        if not result.ok:
            raise StepError(f"{container.name}: could not empty {render.CAPTURES}: {result.output.strip()}")

    def state(self, container: NodeContainer) -> list[str]:
        captures, _ = self.captures(container)
        lines = [f"captures: {len(captures)}"]
        for c in captures:
            auth = f" auth={c['auth_user']}/{c['auth_mechanism']}" if c.get("auth_user") else ""
            lines.append(f"  {c['message_id']} from {c['peer']} <{c['mail_from']}> -> {c['rcpt_to']}{auth}")
            checked = c.get("authentication") or {}
            if checked:
                lines.append(
                    "    " + (checked.get("authentication_results") or f"authentication: {checked.get('error')}")
                )
        return lines


KIND = SinkKind()
