"""BIND nodes: the topology's DNS, authoritative for a fake root and every scenario zone."""

from __future__ import annotations

from pathlib import Path

from harness.core.container import NodeContainer
from harness.core.waits import DnsAnswerWait, Wait
from harness.kinds.base import BASE_TOOLS, DnsServer, Kind, NoSettings
from harness.kinds.bind import render
from harness.render.common import NodeConfig
from harness.scenario.model import Node, Scenario


class BindKind(Kind[NoSettings], DnsServer):
    name = "bind"
    image = "bind"
    package_dir = Path(__file__).resolve().parent
    log_path = "/var/log/named.log"
    plain_start = "exec named -g -u bind"
    required_tools = (*BASE_TOOLS, "named", "named-checkconf", "named-checkzone", "dig")

    def render_settings(self, scenario: Scenario, node: Node, settings: NoSettings) -> NodeConfig:
        return render.render(scenario, node)

    def waits(self, node: Node) -> list[Wait]:
        return [DnsAnswerWait(".")]

    def plain_waits(self, node: Node) -> list[Wait]:
        return [DnsAnswerWait("localhost")]  # Debian's default zones; the root is only hints

    def version(self, container: NodeContainer) -> str:
        return container.exec(["named", "-v"]).output.strip()


KIND = BindKind()
