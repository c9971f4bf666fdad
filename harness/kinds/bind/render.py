"""BIND: the topology's only DNS server, authoritative for a fake root and every scenario zone.

Names outside the scenario's zones get an authoritative NXDOMAIN from the fake root, so no
query ever needs to leave the topology. Per-name behaviours: ``nxdomain``, ``nodata`` and
``drop`` (no answer at all) are response-policy (RPZ) rules; ``servfail`` is a zone of its
own that is deliberately left unloadable. Checked with ``named-checkconf`` and
``named-checkzone`` before the server starts.
"""

from __future__ import annotations

import re

from harness.render.common import Command, NodeConfig, resolv_conf, start_prelude
from harness.scenario.model import Node, Record, Scenario, Zone

ZONE_DIR = "/etc/bind/harness"
NAMED_CONF = "/etc/bind/named.conf"
RPZ_ZONE = "rpz.harness."
SOA_TIMERS = "1 3600 600 86400 60"
RPZ_ACTIONS = {"nxdomain": ".", "nodata": "*.", "drop": "rpz-drop."}


def _zone_file_name(origin: str) -> str:
    return f"{ZONE_DIR}/{'root' if origin == '.' else origin.rstrip('.')}.zone"


def _header(origin: str, ns: str) -> list[str]:
    return [
        f"$ORIGIN {origin}",
        "$TTL 60",
        f"@ IN SOA {ns} hostmaster.{ns} {SOA_TIMERS}",
        f"@ IN NS {ns}",
    ]


def _record_line(record: Record) -> str:
    ttl = f" {record.ttl}" if record.ttl is not None else ""
    return f"{record.owner}{ttl} IN {record.rtype} {record.rdata}"


def _owner_absolute(owner: str, origin: str) -> str:
    if owner == "@":
        return origin
    if owner.endswith("."):
        return owner
    return f"{owner}.{origin}"


def zone_text(scenario: Scenario, zone: Zone, ns: str) -> str:
    """A scenario zone as a zone file, with the nodes' host records added where asked."""
    lines = _header(zone.origin, ns)
    lines.extend(_record_line(r) for r in zone.records)
    assert scenario.dns is not None
    if scenario.dns.host_records:

        def owners(*types: str) -> set[str]:
            return {_owner_absolute(r.owner, zone.origin).lower() for r in zone.records if r.rtype in types}

        owners_with_a, owners_with_aaaa = owners("A", "CNAME"), owners("AAAA", "CNAME")
        for node in scenario.nodes:
            fqdn = node.hostname.lower() + "."
            if _best_zone(scenario, fqdn) is not zone:
                continue
            if fqdn not in owners_with_a:
                lines.append(f"{fqdn} IN A {node.ip}  ; host record of node {node.name}")
            if node.ip6s and fqdn not in owners_with_aaaa:
                lines.append(f"{fqdn} IN AAAA {node.ip6s[0]}  ; host record of node {node.name}")
    return "\n".join(lines) + "\n"


def _best_zone(scenario: Scenario, fqdn: str) -> Zone | None:
    assert scenario.dns is not None
    best: Zone | None = None
    for zone in scenario.dns.zones:
        if fqdn == zone.origin or fqdn.endswith("." + zone.origin):
            if best is None or len(zone.origin) > len(best.origin):
                best = zone
    return best


def root_zone_text(server: Node) -> str:
    ns = server.hostname + "."
    lines = _header(".", ns)
    lines.append(f"{ns} IN A {server.ip}")
    return "\n".join(lines) + "\n"


def rpz_text(scenario: Scenario, ns: str) -> str:
    assert scenario.dns is not None
    lines = _header(RPZ_ZONE, ns)
    for name, behaviour in scenario.dns.behaviours:
        if behaviour in RPZ_ACTIONS:
            lines.append(f"{name}{RPZ_ZONE} CNAME {RPZ_ACTIONS[behaviour]}")
    return "\n".join(lines) + "\n"


def named_conf(scenario: Scenario, zones: list[tuple[str, str]], servfail: list[str], rpz: bool) -> str:
    server = scenario.dns_node
    server_has_ipv6 = server is not None and bool(server.ip6s)
    policy = (
        f'    response-policy {{ zone "{RPZ_ZONE.rstrip(".")}"; }} qname-wait-recurse no break-dnssec yes recursive-only no;\n'
        if rpz
        else ""
    )
    text = (
        f"// Rendered by mta-harness for scenario '{scenario.name}'.\n"
        "options {\n"
        '    directory "/var/cache/bind";\n'
        "    listen-on { any; };\n"
        f"    listen-on-v6 {{ {'any' if server_has_ipv6 else 'none'}; }};\n"
        "    recursion yes;\n"
        "    allow-recursion { any; };\n"
        "    allow-query { any; };\n"
        "    dnssec-validation no;\n"
        "    notify no;\n"
        "    querylog yes;\n"
        f"{policy}"
        "};\n"
        "logging {\n"
        '    channel harness { file "/var/log/named.log"; print-time yes; print-category yes; severity info; };\n'
        "    category default { harness; };\n"
        "    category queries { harness; };\n"
        "    category lame-servers { null; };\n"
        "};\n"
    )
    for origin, path in zones:
        text += f'zone "{origin}" {{ type master; file "{path}"; }};\n'
    for name in servfail:
        text += f'// servfail: this zone is unloadable on purpose, so every query for it fails\nzone "{name}" {{ type master; file "{ZONE_DIR}/servfail.missing"; }};\n'
    return text


def render(scenario: Scenario, node: Node) -> NodeConfig:
    assert scenario.dns is not None
    ns = node.hostname + "."
    files: list[tuple[str, str, int]] = [("/etc/harness/resolv.conf", resolv_conf(scenario, node), 0o644)]
    zones: list[tuple[str, str]] = [(".", _zone_file_name("."))]
    files.append((_zone_file_name("."), root_zone_text(node), 0o644))
    for zone in scenario.dns.zones:
        path = _zone_file_name(zone.origin)
        zones.append((zone.origin, path))
        files.append((path, zone_text(scenario, zone, ns), 0o644))
    rpz = any(b in RPZ_ACTIONS for _, b in scenario.dns.behaviours)
    if rpz:
        zones.append((RPZ_ZONE, _zone_file_name(RPZ_ZONE)))
        files.append((_zone_file_name(RPZ_ZONE), rpz_text(scenario, ns), 0o644))
    servfail = [name for name, b in scenario.dns.behaviours if b == "servfail"]
    files.append((NAMED_CONF, named_conf(scenario, zones, servfail, rpz), 0o644))
    setup = [Command("named-checkconf", ("named-checkconf", NAMED_CONF))]
    for origin, path in zones:
        setup.append(Command(f"named-checkzone {origin}", ("named-checkzone", "-k", "fail", origin, path)))
    start = (
        start_prelude()
        + "touch /var/log/named.log && chown bind /var/log/named.log\nnamed -u bind -c /etc/bind/named.conf\n"
    )
    stop = "#!/bin/sh\npkill -x named\nwhile pgrep -x named >/dev/null; do sleep 0.05; done\n"
    return NodeConfig(files=tuple(files), setup=tuple(setup), start=start, stop=stop)


def zone_file_of(scenario: Scenario, name: str) -> tuple[str, str] | None:
    """The scenario zone that holds an absolute name: (origin, its zone file)."""
    zone = _best_zone(scenario, name.lower())
    return None if zone is None else (zone.origin, _zone_file_name(zone.origin))


_SOA = re.compile(r"^(@ IN SOA \S+ \S+ )(\d+)( .*)$", re.M)


def with_records(text: str, records: tuple[Record, ...], why: str) -> str:
    """A rendered zone file with records added at its end and its SOA serial one higher,
    as an administrator edits a zone before ``rndc reload``."""
    match = _SOA.search(text)
    if match is None:
        raise ValueError("the zone file has no SOA line the harness rendered")
    serial = int(match.group(2)) + 1
    text = text[: match.start()] + f"{match.group(1)}{serial}{match.group(3)}" + text[match.end() :]
    if not text.endswith("\n"):
        text += "\n"
    return text + "".join(f"{_record_line(r)}  ; {why}\n" for r in records)
