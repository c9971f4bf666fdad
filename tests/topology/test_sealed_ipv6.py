"""A dual-stack topology is sealed over IPv6 as over IPv4: internal networks with their
IPv6 subnet, no default route of either family (Docker installs both), IPv6 only on the
interfaces of dual-stack networks, and an address outside the topology is unreachable at
once: the kernel has no route for it, so no packet leaves the node."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from harness.core import engine
from harness.topology import Topology

pytestmark = [pytest.mark.topology, pytest.mark.mta_subnets("10.232.0.0/24", "10.232.1.0/24")]

# Documentation prefix (RFC 3849): routed nowhere, so a connect to it tests the node's routes only.
OUTSIDE = "2001:db8::25"


def test_dual_stack_topology_is_sealed(topology_factory: Callable[..., Topology], mta_suite: str) -> None:
    topo = topology_factory("ipv6-dual-stack", suite=mta_suite)
    client = engine.client()
    for network in topo.scenario.networks:
        attrs = client.networks.get(topo.network_name(network.name)).attrs
        assert attrs["Internal"] is True, f"{network.name} is not internal"
        expected = [str(network.subnet), *([str(network.subnet6)] if network.subnet6 else [])]
        assert [c["Subnet"] for c in attrs["IPAM"]["Config"]] == expected
        assert attrs["EnableIPv6"] is network.dual_stack
    assert any(n.dual_stack for n in topo.scenario.networks) and not all(n.dual_stack for n in topo.scenario.networks)
    for handle in topo.nodes.values():
        own6 = {str(ip) for ip in handle.node.ip6s}
        subnets6 = {str(topo.scenario.network(a.network).subnet6) for a in handle.node.attachments if a.ip6 is not None}
        routes = handle.exec(["ip", "route", "show", "default"]).strip()
        assert routes == "", f"{handle.name} has an IPv4 default route: {routes}"
        routes6 = handle.exec(["ip", "-6", "route", "show", "table", "all"]).splitlines()
        assert [r for r in routes6 if r.startswith("default")] == [], f"{handle.name} has an IPv6 default route"
        # What is left: loopback, link-local, multicast, the node's own dual-stack subnets and
        # the local routes of its own addresses.
        allowed = subnets6 | {f"local {ip}" for ip in own6}
        foreign = [
            r
            for r in routes6
            if " dev lo " not in f"{r} "
            and "fe80::" not in r
            and not r.startswith(("ff00::", "multicast ff00::"))
            and r.split()[0] not in allowed
            and " ".join(r.split()[:2]) not in allowed
        ]
        assert foreign == [], f"{handle.name} has IPv6 routes beyond its own subnets:\n" + "\n".join(routes6)
        # /proc/net/if_inet6: address (32 hex digits), index, prefix length, scope, flags, interface.
        inet6 = [line.split() for line in handle.exec(["cat", "/proc/net/if_inet6"]).splitlines() if line.strip()]
        global6 = {
            str(ipaddress.IPv6Address(int(f[0], 16))) for f in inet6 if f[5] != "lo" and not f[0].startswith("fe80")
        }
        assert global6 == own6, f"{handle.name}: IPv6 addresses {global6}, the scenario gives {own6}"
        if own6:
            probe = handle.run(f"bash -c 'echo > /dev/tcp/{OUTSIDE}/25' 2>&1")
            assert probe.code != 0 and "Network is unreachable" in probe.output, (handle.name, probe.output)
