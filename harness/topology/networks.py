"""A topology's networks on the engine: internal bridges with explicit subnets, named and
labelled per run, so that nothing leaves the machine and a crashed run's are reaped."""

from __future__ import annotations

import docker.errors
import docker.types

from harness.core import engine
from harness.errors import HarnessError, StepError
from harness.scenario.model import Network, Node, Scenario


class Networks:
    """The Docker networks of one run of a scenario."""

    def __init__(self, scenario: Scenario, run_id: str) -> None:
        self.scenario = scenario
        self.run_id = run_id
        self.created: list[str] = []

    def name(self, network: str) -> str:
        """The engine's name of a scenario network."""
        return f"mh-{self.run_id}-{network}"

    def attachments(self, node: Node) -> list[tuple[str, str, str | None]]:
        """(engine network name, IPv4 address, IPv6 address or None) of each of the node's
        attachments."""
        return [(self.name(a.network), str(a.ip), str(a.ip6) if a.ip6 else None) for a in node.attachments]

    def create(self, labels: dict[str, str]) -> None:
        for net in self.scenario.networks:
            self._create(net, labels)

    def _create(self, net: Network, labels: dict[str, str]) -> None:
        name = self.name(net.name)
        pools = [docker.types.IPAMPool(subnet=str(net.subnet))]
        if net.subnet6 is not None:
            pools.append(docker.types.IPAMPool(subnet=str(net.subnet6)))
        ipam = docker.types.IPAMConfig(pool_configs=pools)
        try:
            engine.client().networks.create(
                name,
                driver="bridge",
                internal=True,
                enable_ipv6=net.dual_stack,
                ipam=ipam,
                labels=labels,
                check_duplicate=True,
            )
        except docker.errors.APIError as exc:
            if "overlaps" in str(exc):
                raise HarnessError(
                    f"network '{net.name}' ({', '.join(map(str, filter(None, (net.subnet, net.subnet6))))}) of scenario '{self.scenario.name}' overlaps a network "
                    "that already exists on the engine (another topology running?); stop it with "
                    "'mta-harness down' or pick another subnet"
                ) from exc
            raise
        self.created.append(name)

    def address_seen_from(self, node_name: str, seen_from: Node, family: int = 4) -> str:
        """The address of ``node_name`` on a network it shares with ``seen_from`` (its IPv6
        address on a shared dual-stack network with ``family`` 6)."""
        target = self.scenario.node(node_name)
        shared = {a.network for a in seen_from.attachments}
        for attachment in target.attachments:
            if attachment.network in shared:
                if family == 4:
                    return str(attachment.ip)
                if attachment.ip6 is not None:
                    return str(attachment.ip6)
        if family == 6 and any(a.network in shared for a in target.attachments):
            raise StepError(f"{seen_from.name} shares no dual-stack network with {node_name}: no IPv6 address")
        raise StepError(f"{seen_from.name} shares no network with {node_name}")

    def addresses_of(self, node_name: str) -> set[str]:
        node = self.scenario.node(node_name)
        return {str(a.ip) for a in node.attachments} | {str(ip) for ip in node.ip6s}

    def node_at(self, address: str) -> str | None:
        """The node that has ``address``, if any."""
        return next((n.name for n in self.scenario.nodes if address in self.addresses_of(n.name)), None)
