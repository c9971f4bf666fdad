"""Plain client nodes: they send test mail and ask DNS questions from inside a topology,
and serve nothing. The sink's image, without a sink running."""

from __future__ import annotations

from harness.kinds.base import Kind, NoSettings, SmtpClient
from harness.kinds.sink import AgentImage, render
from harness.render.common import NodeConfig
from harness.scenario.model import Node, Scenario


class ClientKind(AgentImage, Kind[NoSettings], SmtpClient):
    name = "client"

    def render_settings(self, scenario: Scenario, node: Node, settings: NoSettings) -> NodeConfig:
        return render.render_client(scenario, node)


KIND = ClientKind()
