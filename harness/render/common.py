"""What every node gets, whatever its kind: name resolution through the topology's BIND."""

from __future__ import annotations

from dataclasses import dataclass

from harness.scenario.model import Node, Scenario

RESOLV_CONF = "/etc/harness/resolv.conf"


@dataclass(frozen=True)
class Command:
    """A command run inside the node while configuring it; a failure rejects the config."""

    what: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class NodeConfig:
    """Everything rendered for one node: files, setup commands, start and stop scripts."""

    files: tuple[tuple[str, str, int], ...] = ()
    setup: tuple[Command, ...] = ()
    start: str = ""
    stop: str = ""
    # What the harness changed of the user's own files (``files:``), one line each, shown
    # with the node's version when it starts.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Param:
    """A setting the harness renders by default, with its meaning (a kind's ``params.py``)."""

    name: str
    value: str
    meaning: str


def domain_of(hostname: str) -> str:
    return hostname.split(".", 1)[1] if "." in hostname else hostname


def resolv_conf(scenario: Scenario, node: Node) -> str:
    """Point at the topology's BIND; with none, at nothing (no lookup may leave the topology).

    Docker's embedded resolver (127.0.0.11) would answer container names itself, even
    where BIND says NXDOMAIN, so it is never used.
    """
    server = scenario.dns_node
    if server is None:
        return f"# no DNS server in this topology: every lookup fails at once\nnameserver {nameserver_for(scenario, node)}\noptions timeout:1 attempts:1\n"
    return f"nameserver {nameserver_for(scenario, node)}\noptions timeout:2 attempts:2\n"


def nameserver_for(scenario: Scenario, node: Node) -> str:
    """The address a node asks DNS questions of: the topology's DNS server on a network it
    shares with the node; with none, the node's own loopback, where nothing answers."""
    server = scenario.dns_node
    return "127.0.0.1" if server is None else dns_address_for(scenario, node, server)


def dns_address_for(scenario: Scenario, node: Node, server: Node) -> str:
    """The DNS server's address on a network the node shares with it (else its first)."""
    if node.name == server.name:
        return "127.0.0.1"
    node_nets = {a.network for a in node.attachments}
    for attachment in server.attachments:
        if attachment.network in node_nets:
            return str(attachment.ip)
    return str(server.ip)


# Docker gives containers on internal networks a default route via the bridge, and an IPv6
# one on each dual-stack network; nothing may leave a topology, so no node keeps any: it
# reaches its own subnets only (re-applied at every start and reconnect).
DROP_DEFAULT_ROUTE = (
    "while ip route del default 2>/dev/null; do :; done; while ip -6 route del default 2>/dev/null; do :; done; true"
)


def start_prelude() -> str:
    return f"#!/bin/sh\ncp {RESOLV_CONF} /etc/resolv.conf\n{DROP_DEFAULT_ROUTE}\n{ADD_HOSTS}\n"


HOSTS_FILE = "/etc/harness/hosts"
HOSTS_MARK = "# mta-harness: hosts entries of the scenario"
# Docker writes /etc/hosts (the node's own name) when the container starts; the scenario's
# entries come after its own, added once per start (configure, start script, reconnect).
ADD_HOSTS = f"[ ! -f {HOSTS_FILE} ] || grep -qxF '{HOSTS_MARK}' /etc/hosts || cat {HOSTS_FILE} >> /etc/hosts"
HOSTS_COMMAND = Command("add the node's hosts: entries to /etc/hosts", ("sh", "-c", ADD_HOSTS))


def hosts_file(node: Node) -> str:
    """The node's ``hosts:`` entries as /etc/hosts lines, after a marker line."""
    return HOSTS_MARK + "\n" + "".join(f"{address}\t{' '.join(names)}\n" for address, names in node.hosts)


def user_commands(node: Node) -> tuple[Command, ...]:
    return tuple(
        Command(f"create local user {user}", ("sh", "-c", f"id -u {user} >/dev/null 2>&1 || useradd -m {user}"))
        for user in node.users
    )
