"""Every topology is sealed: internal networks only, no other attachment, no default route,
nothing published, and names resolve through the topology's BIND, never Docker's resolver."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.core import engine
from harness.topology import Topology

pytestmark = [pytest.mark.topology, pytest.mark.mta_subnets("10.201.0.0/24")]


def _default_routes(route_table: str) -> list[str]:
    # /proc/net/route: Iface Destination Gateway ...; a default route has destination 00000000.
    return [line for line in route_table.splitlines()[1:] if line.split()[1:2] == ["00000000"]]


def test_topology_is_sealed(topology_factory: Callable[..., Topology], mta_suite: str) -> None:
    topo = topology_factory("smoke", suite=mta_suite)
    client = engine.client()
    own_networks = {topo.network_name(n.name): n for n in topo.scenario.networks}
    for name, network in own_networks.items():
        attrs = client.networks.get(name).attrs
        assert attrs["Internal"] is True, f"{name} is not internal"
        assert [c["Subnet"] for c in attrs["IPAM"]["Config"]] == [str(network.subnet)]
    for handle in topo.nodes.values():
        container = handle.container.container
        container.reload()
        attached = set(container.attrs["NetworkSettings"]["Networks"])
        assert attached == {topo.network_name(a.network) for a in handle.node.attachments}, handle.name
        assert not container.attrs["HostConfig"].get("PortBindings"), f"{handle.name} publishes ports"
        routes = handle.exec(["cat", "/proc/net/route"])
        assert _default_routes(routes) == [], f"{handle.name} has a default route:\n{routes}"
        # IPv6 on loopback only: ::1 exists, and IPv6 has no route but loopback's and link-local.
        # /proc/net/if_inet6: address (32 hex digits), index, prefix length, scope, flags, interface.
        inet6 = [line.split() for line in handle.exec(["cat", "/proc/net/if_inet6"]).splitlines() if line.strip()]
        assert ["0" * 31 + "1", "lo"] in [[f[0], f[5]] for f in inet6], f"{handle.name} has no ::1 on lo:\n{inet6}"
        assert [f for f in inet6 if f[5] != "lo" and not f[0].startswith("fe80")] == [], f"{handle.name}: {inet6}"
        routes6 = handle.exec(["ip", "-6", "route", "show", "table", "all"]).splitlines()
        assert [r for r in routes6 if r.startswith("default")] == [], f"{handle.name} has an IPv6 default route"
        foreign = [r for r in routes6 if " dev lo " not in f"{r} " and "fe80::" not in r]
        assert foreign == [], f"{handle.name} has IPv6 routes beyond loopback and link-local:\n{routes6}"
        resolv = handle.exec(["cat", "/etc/resolv.conf"])
        assert "127.0.0.11" not in resolv, f"{handle.name} uses Docker's embedded resolver"


def test_names_resolve_only_through_the_topology_dns(topology_factory: Callable[..., Topology], mta_suite: str) -> None:
    topo = topology_factory("smoke", suite=mta_suite)
    # A node's hostname outside every zone of the scenario: Docker's resolver would answer it.
    assert topo.dns_query("mx.remote.test", "A") == {"rcode": "NOERROR", "answer": ["10.201.0.30"], "error": None}
    assert topo.dns_query("remote.test", "MX")["answer"] == ["10 mx.remote.test."]
    assert topo.dns_query("www.example.com", "A")["rcode"] == "NXDOMAIN"
    # From inside an MTA, with the system resolver (what the MTA itself uses).
    hosts = topo.node("pf").container.exec(["getent", "hosts", "mx.remote.test"])
    assert hosts.output.split()[:1] == ["10.201.0.30"]
    missing = topo.node("pf").container.exec(["getent", "hosts", "mh-nothing.example.com"])
    assert missing.code != 0
