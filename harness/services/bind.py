"""BIND nodes: the topology's DNS."""

from __future__ import annotations

from harness.core.container import NodeContainer
from harness.core.waits import DnsAnswerWait, Wait
from harness.render import bind as render_bind
from harness.scenario.model import Node
from harness.services.base import Service


class BindService(Service):
    kind = "bind"
    image_kind = "bind"
    log_path = "/var/log/named.log"
    required_tools = (*Service.required_tools, "named", "named-checkconf", "named-checkzone", "dig")
    renderer = staticmethod(render_bind.render)

    def waits(self, node: Node) -> list[Wait]:
        return [DnsAnswerWait(".")]

    def version(self, container: NodeContainer) -> str:
        return container.exec(["named", "-v"]).output.strip()
