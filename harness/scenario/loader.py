"""Load a scenario file into the immutable model, validating everything first.

A bad file fails here, with its file name, line, key path and what to change, before any
container or network exists.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, NoReturn

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from harness.kinds import KINDS, DkimSigner, DnsServer, MailboxServer, Mta, SmtpClient, capability, names_with
from harness.kinds.base import CaptureSink
from harness.scenario.files import read_files
from harness.scenario.model import (
    SUITES,
    Attachment,
    Dns,
    Network,
    Node,
    Record,
    Scenario,
    Step,
    Zone,
)
from harness.scenario.reader import Reader, suggest, type_name
from harness.scenario.source import PathT, Source, parse_source, read_source
from harness.steps import STEPS, Checks, StepSpec
from harness.steps.actions import AUTH_MECHANISMS, Send, SmtpAuth
from harness.steps.mailbox import Fetch

TOP_KEYS = ("name", "description", "seed", "suites", "tags", "transcripts", "networks", "nodes", "dns", "steps")
GENERIC_NODE_KEYS = ("kind", "hostname", "networks", "users", "hosts", "image", "files")
DNS_KEYS = ("server", "zones", "behaviours", "host_records")
DNS_BEHAVIOURS = ("nxdomain", "nodata", "servfail", "drop")
# The types a topology usually needs (for suggestions); any other type dnspython knows works too.
RECORD_TYPES = ("A", "AAAA", "MX", "CNAME", "PTR", "TXT", "NS", "SRV")
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")
HOST_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
MAILBOX_KEY = MailboxServer.mailbox_key
DKIM_KEY = DkimSigner.dkim_key
# Docker's default bridge and address pools: a topology subnet inside them could clash.
RESERVED_NETS = (ipaddress.ip_network("172.17.0.0/16"),)
# IPv6 networks are unique local only: nothing outside the machine routes them.
ULA = ipaddress.IPv6Network("fc00::/7")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file."""
    path = Path(path)
    return _Loader(read_source(path), default_name=path.stem).scenario()


def load_scenario_text(text: str, name: str = "<scenario>") -> Scenario:
    """Validate scenario text (tests, generated scenarios)."""
    return _Loader(parse_source(text, name), default_name=Path(name).stem).scenario()


def node_keys() -> tuple[str, ...]:
    """The keys a node may have: the generic ones and every kind's settings key."""
    return GENERIC_NODE_KEYS + tuple(k.settings_key for k in KINDS.values() if k.settings_key) + (MAILBOX_KEY, DKIM_KEY)


class _Loader(Reader):
    def __init__(self, src: Source, default_name: str) -> None:
        super().__init__(src)
        self.default_name = default_name

    # ---- the scenario ------------------------------------------------------------------------
    def scenario(self) -> Scenario:
        top = self.mapping((), TOP_KEYS, "a scenario")
        name = self.optional(top, (), "name", lambda p: self.string(p, "name"), self.default_name)
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", name):
            self.src.fail(("name",), f"name '{name}' has characters other than letters, digits, '.', '_', '-'")
        suites = self.optional(top, (), "suites", lambda p: self.strings(p, "suites"), SUITES)
        if not suites:
            self.src.fail(
                ("suites",),
                "suites is empty: the scenario would never run",
                "list at least one of " + ", ".join(SUITES),
            )
        for i, suite in enumerate(suites):
            if suite not in SUITES:
                self.src.fail(("suites", i), f"unknown suite '{suite}'", suggest(suite, SUITES))
        networks = self.networks(top)
        nodes = self.nodes(top, networks)
        dns = self.dns(top, nodes)
        self.dkim_zones(nodes, dns)
        steps = self.steps(top, nodes, networks)
        return Scenario(
            name=name,
            file=self.src.file,
            description=self.optional(top, (), "description", lambda p: self.string(p, "description"), ""),
            seed=self.optional(top, (), "seed", lambda p: self.string(p, "seed"), ""),
            tags=self.optional(top, (), "tags", lambda p: self.strings(p, "tags"), ()),
            transcripts=self.optional(top, (), "transcripts", self.transcripts, False),
            suites=tuple(suites),
            networks=networks,
            nodes=nodes,
            dns=dns,
            steps=steps,
        )

    def transcripts(self, path: PathT) -> bool:
        value = self.get(path)
        if not isinstance(value, bool):
            self.src.fail(
                path,
                f"transcripts must be true or false, not {type_name(value)} {value!r}",
                "write 'transcripts: true' to record every SMTP session of the topology, or leave the key out",
            )
        return value

    def networks(self, top: dict[str, Any]) -> tuple[Network, ...]:
        raw = self.require((), top, "networks", "a scenario")
        nets = self.mapping(("networks",), raw.keys() if isinstance(raw, dict) else (), "networks")
        if not nets:
            self.src.fail(
                ("networks",), "a scenario needs at least one network", "add e.g. 'lan: {subnet: 10.201.0.0/24}'"
            )
        result: list[Network] = []
        for name in nets:
            path: PathT = ("networks", name)
            self.check_name(path, name, "network")
            body = self.mapping(path, ("subnet", "subnet6"), f"network '{name}'")
            text = (
                self.string((*path, "subnet"), "subnet")
                if "subnet" in body
                else self.require(path, body, "subnet", f"network '{name}'")
            )
            try:
                subnet = ipaddress.IPv4Network(text, strict=True)
            except ValueError as exc:
                self.src.fail((*path, "subnet"), f"'{text}' is not an IPv4 subnet: {exc}", "write it as 10.201.0.0/24")
            if subnet.prefixlen > 29 or not subnet.is_private:
                self.src.fail(
                    (*path, "subnet"),
                    f"subnet {subnet} must be a private range of at least /29",
                    "use a private range such as 10.201.0.0/24: topology traffic never leaves the machine",
                )
            for other in result:
                if subnet.overlaps(other.subnet):
                    self.src.fail(
                        (*path, "subnet"), f"subnet {subnet} overlaps network '{other.name}' ({other.subnet})"
                    )
            for reserved in RESERVED_NETS:
                if subnet.overlaps(reserved):
                    self.src.fail((*path, "subnet"), f"subnet {subnet} overlaps Docker's default bridge {reserved}")
            subnet6 = self.subnet6((*path, "subnet6"), subnet, result) if body.get("subnet6") is not None else None
            result.append(Network(name, subnet, subnet6))
        return tuple(result)

    def subnet6(self, path: PathT, subnet: ipaddress.IPv4Network, others: list[Network]) -> ipaddress.IPv6Network:
        """A dual-stack network's IPv6 subnet: unique local (fc00::/7), with room for every
        host number of its IPv4 subnet (a node's IPv6 address defaults to the same number)."""
        text = self.string(path, "subnet6")
        try:
            subnet6 = ipaddress.IPv6Network(text, strict=True)
        except ValueError as exc:
            self.src.fail(path, f"'{text}' is not an IPv6 subnet: {exc}", "write it as fd42:201::/64")
        if not subnet6.subnet_of(ULA):
            self.src.fail(
                path,
                f"subnet6 {subnet6} is not a unique local range (fc00::/7)",
                "use a ULA prefix such as fd42:201::/64: topology traffic never leaves the machine",
            )
        if subnet6.num_addresses < subnet.num_addresses:
            self.src.fail(
                path,
                f"subnet6 {subnet6} is smaller than the IPv4 subnet {subnet}",
                f"use at least a /{128 - (32 - subnet.prefixlen)}, e.g. a /64",
            )
        for other in others:
            if other.subnet6 is not None and subnet6.overlaps(other.subnet6):
                self.src.fail(path, f"subnet6 {subnet6} overlaps network '{other.name}' ({other.subnet6})")
        return subnet6

    def check_name(self, path: PathT, name: str, what: str) -> None:
        if not NAME_RE.match(name):
            self.src.fail(
                path, f"{what} name '{name}' must be lower case letters, digits, '-' or '_', starting with a letter"
            )

    def nodes(self, top: dict[str, Any], networks: tuple[Network, ...]) -> tuple[Node, ...]:
        raw = self.require((), top, "nodes", "a scenario")
        nodes = self.mapping(("nodes",), raw.keys() if isinstance(raw, dict) else (), "nodes")
        if not nodes:
            self.src.fail(("nodes",), "a scenario needs at least one node")
        result: list[Node] = []
        used_ips: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, str] = {}
        hostnames: dict[str, str] = {}
        for name in nodes:
            node = self.node(("nodes", name), name, networks, used_ips)
            if node.hostname.lower() in hostnames:
                self.src.fail(
                    ("nodes", name, "hostname"),
                    f"hostname {node.hostname} is also node '{hostnames[node.hostname.lower()]}'s",
                )
            hostnames[node.hostname.lower()] = name
            result.append(node)
        return tuple(result)

    def node(
        self,
        path: PathT,
        name: str,
        networks: tuple[Network, ...],
        used_ips: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, str],
    ) -> Node:
        self.check_name(path, name, "node")
        body = self.mapping(path, node_keys(), f"node '{name}'")
        kind = (
            self.string((*path, "kind"), "kind")
            if "kind" in body
            else self.require(path, body, "kind", f"node '{name}'")
        )
        if kind not in KINDS:
            self.src.fail((*path, "kind"), f"unknown node kind '{kind}'", suggest(kind, KINDS))
        node_kind = KINDS[kind]
        hostname = (
            self.string((*path, "hostname"), "hostname")
            if "hostname" in body
            else self.require(path, body, "hostname", f"node '{name}'")
        )
        labels = hostname.split(".")
        if len(labels) < 2 or not all(HOST_LABEL_RE.match(label) for label in labels):
            self.src.fail(
                (*path, "hostname"),
                f"hostname '{hostname}' is not a fully qualified domain name",
                "write e.g. mx.example.test: sendmail stalls 60 s at start without one",
            )
        attachments = self.attachments((*path, "networks"), body, name, networks, used_ips)
        for other in (k.settings_key for k in KINDS.values() if k.settings_key):
            if other in body and other != node_kind.settings_key:
                self.src.fail((*path, other), f"node '{name}' is of kind {kind}: '{other}' settings do not apply")
        users = self.optional(body, path, "users", lambda p: self.strings(p, "users"), ())
        for i, user in enumerate(users):
            if not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", user):
                self.src.fail((*path, "users", i), f"'{user}' is not a valid user name")
        if users and not isinstance(node_kind, Mta):
            self.src.fail((*path, "users"), "local users exist only on MTA nodes")
        mailbox = None
        if body.get(MAILBOX_KEY) is not None:
            if not isinstance(node_kind, MailboxServer):
                self.src.fail(
                    (*path, MAILBOX_KEY),
                    f"node '{name}' is of kind {kind}, which serves no mailboxes",
                    f"POP3/IMAP mailbox servers are {names_with(MailboxServer)} nodes",
                )
            mailbox = node_kind.parse_mailbox_server(self, (*path, MAILBOX_KEY), users)
        dkim = None
        if body.get(DKIM_KEY) is not None:
            if not isinstance(node_kind, DkimSigner):
                self.src.fail(
                    (*path, DKIM_KEY),
                    f"node '{name}' is of kind {kind}, which cannot sign with DKIM",
                    f"DKIM signers are {names_with(DkimSigner)} nodes",
                )
            dkim = node_kind.parse_dkim(self, (*path, DKIM_KEY))
        key = node_kind.settings_key
        settings = (
            node_kind.parse_settings(self, (*path, key))
            if key is not None and body.get(key) is not None
            else node_kind.default_settings()
        )
        node = Node(
            name=name,
            kind=kind,
            hostname=hostname,
            attachments=attachments,
            settings=settings,
            users=users,
            hosts=self.optional(body, path, "hosts", self.hosts_entries, ()),
            image=self.optional(body, path, "image", lambda p: self.string(p, "image"), None),
            mailbox_server=mailbox,
            dkim=dkim,
            files=self.optional(body, path, "files", lambda p: read_files(self, p, Path(self.src.file).parent), ()),
        )
        node_kind.validate_node(self, path, node)
        return node

    def hosts_entries(self, path: PathT) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``hosts:``: /etc/hosts lines, an address to its names (a string or a list)."""
        raw = self.keys(path, "hosts")
        result: list[tuple[str, tuple[str, ...]]] = []
        for address, value in raw.items():
            try:
                ipaddress.ip_address(str(address))
            except ValueError:
                self.src.fail(
                    (*path, address),
                    f"'{address}' is not an IP address",
                    "write the address as the key and its names as the value, e.g. '10.201.0.30: hostc.example.test hostc'",
                )
            names = (
                self.strings((*path, address), "host names")
                if isinstance(value, list)
                else tuple(self.string((*path, address), "host names").split())
            )
            if not names:
                self.src.fail((*path, address), f"no names for {address}", "write e.g. 'hostc.example.test hostc'")
            for host in names:
                if not all(HOST_LABEL_RE.match(label) for label in host.split(".")):
                    self.src.fail((*path, address), f"'{host}' is not a host name")
            result.append((str(address), names))
        return tuple(result)

    def attachments(
        self,
        path: PathT,
        body: dict[str, Any],
        name: str,
        networks: tuple[Network, ...],
        used_ips: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, str],
    ) -> tuple[Attachment, ...]:
        if "networks" not in body:
            self.src.fail(
                path[:-1], f"node '{name}' needs 'networks:'", f"e.g. 'networks: {{{networks[0].name}: <address>}}'"
            )
        by_name = {net.name: net for net in networks}
        raw = self.mapping(
            path, self.get(path).keys() if isinstance(self.get(path), dict) else (), f"node '{name}' networks"
        )
        for net_name in raw:
            if net_name not in by_name:
                self.src.fail((*path, net_name), f"no network named '{net_name}'", suggest(net_name, by_name))
        if not raw:
            self.src.fail(path, f"node '{name}' is on no network")
        result = []
        for net_name in raw:
            net = by_name[net_name]
            where: PathT = (*path, net_name)
            value = self.get(where)
            ip6: ipaddress.IPv6Address | None = None
            if isinstance(value, dict):
                body6 = self.mapping(where, ("ipv4", "ipv6"), f"node '{name}' address on '{net_name}'")
                ip = self.ipv4_attachment((*where, "ipv4"), body6, net, name, used_ips)
                if "ipv6" in body6:
                    ip6 = self.ipv6_attachment((*where, "ipv6"), net, name, used_ips)
            else:
                ip = self.ipv4_attachment(where, None, net, name, used_ips)
            if ip6 is None and net.subnet6 is not None:
                # The same host number as the IPv4 address: 10.201.0.30 -> fd42:201::1e.
                ip6 = net.subnet6.network_address + (int(ip) - int(net.subnet.network_address))
                if ip6 in used_ips:
                    self.src.fail(
                        where,
                        f"{ip6}, the IPv6 address that {ip} implies, is already node '{used_ips[ip6]}'s address",
                        "give this node its own with 'ipv6:'",
                    )
                used_ips[ip6] = name
            result.append(Attachment(net_name, ip, ip6))
        return tuple(result)

    def ipv4_attachment(
        self,
        path: PathT,
        body: dict[str, Any] | None,
        net: Network,
        name: str,
        used_ips: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, str],
    ) -> ipaddress.IPv4Address:
        if body is not None and "ipv4" not in body:
            self.require(path[:-1], body, "ipv4", f"node '{name}' address on '{net.name}'")
        text = self.string(path, "address")
        try:
            ip = ipaddress.IPv4Address(text)
        except ValueError:
            self.src.fail(path, f"'{text}' is not an IPv4 address")
        if ip not in net.subnet:
            self.src.fail(
                path, f"{ip} is not inside network '{net.name}' ({net.subnet})", "pick an address inside the subnet"
            )
        gateway = net.subnet.network_address + 1  # Docker's gateway: the first host address
        if ip in (net.subnet.network_address, net.subnet.broadcast_address, gateway):
            self.src.fail(path, f"{ip} is reserved in {net.subnet} (network, gateway or broadcast)")
        if ip in used_ips:
            self.src.fail(path, f"{ip} is already node '{used_ips[ip]}'s address")
        used_ips[ip] = name
        return ip

    def ipv6_attachment(
        self,
        path: PathT,
        net: Network,
        name: str,
        used_ips: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, str],
    ) -> ipaddress.IPv6Address:
        if net.subnet6 is None:
            self.src.fail(
                path,
                f"network '{net.name}' is IPv4 only: it has no IPv6 address to give",
                f"add 'subnet6:' (a ULA prefix such as fd42:201::/64) to network '{net.name}'",
            )
        text = self.string(path, "ipv6")
        try:
            ip6 = ipaddress.IPv6Address(text)
        except ValueError:
            self.src.fail(path, f"'{text}' is not an IPv6 address")
        if ip6 not in net.subnet6:
            self.src.fail(
                path, f"{ip6} is not inside network '{net.name}' ({net.subnet6})", "pick an address inside the subnet6"
            )
        if ip6 in (net.subnet6.network_address, net.subnet6.network_address + 1):
            self.src.fail(path, f"{ip6} is reserved in {net.subnet6} (network or Docker's gateway)")
        if ip6 in used_ips:
            self.src.fail(path, f"{ip6} is already node '{used_ips[ip6]}'s address")
        used_ips[ip6] = name
        return ip6

    def dkim_zones(self, nodes: tuple[Node, ...], dns: Dns | None) -> None:
        """Every DKIM signer's key can be published: a DNS server, and a zone of the
        scenario's for each signing domain, where the harness adds SELECTOR._domainkey."""
        for node in nodes:
            if node.dkim is None:
                continue
            path: PathT = ("nodes", node.name, DKIM_KEY)
            if dns is None or dns.server is None:
                self.src.fail(
                    path,
                    f"node '{node.name}' signs with DKIM, but the topology has no DNS server to publish its key",
                    f"add a node of kind {names_with(DnsServer)} and a zone for {node.dkim.domain} under dns.zones",
                )
            for i, domain in enumerate(node.dkim.domains):
                where: PathT = (*path, "sign", i) if node.dkim.sign else (*path, "domain")
                name = node.dkim.record_name(domain)
                shown = name.rstrip(".")
                zone = _zone_of(dns, name)
                if zone is None:
                    self.src.fail(
                        where,
                        f"no zone in dns.zones holds {domain}: the key's TXT record {shown} could not be published",
                        f"add '{domain}: []' (or a parent domain) under dns.zones",
                    )
                for record in zone.records:
                    if _absolute_in(record.owner, zone.origin) == name.lower() and record.rtype == "TXT":
                        self.src.fail(
                            where,
                            f"zone {zone.origin} already has a TXT record at {shown}",
                            f"leave it out: the harness publishes the key node '{node.name}' makes when it starts",
                        )

    # ---- DNS ---------------------------------------------------------------------------------
    def dns(self, top: dict[str, Any], nodes: tuple[Node, ...]) -> Dns | None:
        bind_nodes = [n for n in nodes if capability(n, DnsServer)]
        bind = names_with(DnsServer)
        if "dns" not in top or top["dns"] is None:
            if bind_nodes:
                return Dns(server=bind_nodes[0].name)
            return None
        raw = self.mapping(("dns",), DNS_KEYS, "dns")
        server = self.optional(raw, ("dns",), "server", lambda p: self.string(p, "server"), None)
        if server is None:
            if not bind_nodes:
                self.src.fail(("dns",), f"dns needs a node of kind {bind} to serve it", f"add a node of kind {bind}")
            if len(bind_nodes) > 1:
                names = ", ".join(n.name for n in bind_nodes)
                self.src.fail(
                    ("dns",), f"dns needs 'server:' naming one of the {bind} nodes ({names})", "add 'server: <node>'"
                )
            server = bind_nodes[0].name
        elif server not in {n.name for n in bind_nodes}:
            fix = suggest(server, [n.name for n in bind_nodes]) if bind_nodes else f"add a node of kind {bind}"
            self.src.fail(("dns", "server"), f"'{server}' is not a node of kind {bind}", fix)
        zones = []
        if raw.get("zones") is not None:
            zp: PathT = ("dns", "zones")
            zraw = self.mapping(zp, raw["zones"].keys() if isinstance(raw["zones"], dict) else (), "zones")
            for origin in zraw:
                zones.append(self.zone((*zp, origin), origin))
        behaviours = []
        if raw.get("behaviours") is not None:
            for name, behaviour in self.pairs(("dns", "behaviours"), "dns.behaviours"):
                if behaviour not in DNS_BEHAVIOURS:
                    self.src.fail(
                        ("dns", "behaviours", name),
                        f"unknown DNS behaviour '{behaviour}'",
                        suggest(behaviour, DNS_BEHAVIOURS),
                    )
                behaviours.append((_absolute(name), behaviour))
        return Dns(
            server=server,
            zones=tuple(zones),
            behaviours=tuple(behaviours),
            host_records=self.optional(raw, ("dns",), "host_records", lambda p: self.boolean(p, "host_records"), True),
        )

    def zone(self, path: PathT, origin: str) -> Zone:
        if origin in (".", ""):
            self.src.fail(path, "the root zone is the harness's own", "declare the zones below it, e.g. example.test")
        lines = self.strings(path, f"zone {origin}")
        records = []
        for i, line in enumerate(lines):
            records.append(self.record((*path, i), line, origin))
        return Zone(_absolute(origin), tuple(records))

    def record(self, path: PathT, line: str, origin: str) -> Record:
        """One record line, its data checked by dnspython as a zone file parser would."""
        fix = "write '<owner> [ttl] <TYPE> <data>', e.g. '@ MX 10 mx' or 'mx A 10.201.0.25'"
        m = re.match(r"^(\S+)\s+(?:(\d+)\s+)?([A-Za-z]+)\s+(\S.*)$", line.strip())
        if m is None:
            self.src.fail(path, f"record '{line}' is not '<owner> [ttl] <TYPE> <data>'", fix)
        owner, ttl_text, type_text, rdata_text = m.groups()
        ttl = int(ttl_text) if ttl_text else None
        rest = [type_text, rdata_text]
        rtype = rest[0].upper()
        if rtype not in RECORD_TYPES and not _known_type(rtype):
            self.src.fail(path, f"record type '{rest[0]}' is not supported", suggest(rtype, RECORD_TYPES))
        rdata = rest[1].strip()
        try:
            dns.rdata.from_text(dns.rdataclass.IN, rtype, rdata, origin=dns.name.from_text(origin))
        except (dns.exception.DNSException, ValueError) as exc:
            problem = {
                "A": f"'{rdata}' is not an IPv4 address for an A record",
                "AAAA": f"'{rdata}' is not an IPv6 address for an AAAA record",
                "MX": f"MX data '{rdata}' must be '<preference> <host>'",
            }.get(rtype, f"'{rdata}' is not valid {rtype} data")
            self.src.fail(path, f"{problem} ({exc or type(exc).__name__})")
        try:
            dns.name.from_text(owner, origin=dns.name.from_text(origin))
        except dns.exception.DNSException as exc:
            self.src.fail(path, f"owner '{owner}' is not a domain name ({exc})")
        return Record(owner, ttl, rtype, rdata)

    # ---- steps -------------------------------------------------------------------------------
    def steps(self, top: dict[str, Any], nodes: tuple[Node, ...], networks: tuple[Network, ...]) -> tuple[Step, ...]:
        if top.get("steps") is None:
            return ()
        if not isinstance(top["steps"], list):
            self.src.fail(("steps",), "steps must be a list")
        by_name = {n.name: n for n in nodes}
        messages: set[str] = set()
        self.fetches: set[str] = set()  # the ids of earlier fetch steps
        result = []
        for i, raw in enumerate(top["steps"]):
            path: PathT = ("steps", i)
            if not isinstance(raw, dict):
                self.src.fail(path, f"a step must be a mapping with one action, not {type_name(raw)}")
            actions = [k for k in raw if k not in ("title", "per_suite")]
            if len(actions) != 1:
                self.src.fail(
                    path, f"a step has exactly one action, found {len(actions)}: {', '.join(actions) or 'none'}"
                )
            name = actions[0]
            cls = STEPS.get(name)
            if cls is None:
                self.src.fail((*path, name), f"unknown action '{name}'", suggest(name, STEPS.names()))
            apath: PathT = (*path, name)
            values = self.step_values(apath, cls, raw[name], by_name, networks, messages, partial=False)
            spec = self.build_step(apath, cls, values, by_name)
            per_suite = []
            if raw.get("per_suite") is not None:
                pp = (*path, "per_suite")
                overrides = self.mapping(pp, SUITES, "per_suite")
                for suite in overrides:
                    sp: PathT = (*pp, suite)
                    changed = self.step_values(sp, cls, overrides[suite], by_name, networks, messages, partial=True)
                    if cls in (Send, Fetch) and "id" in changed:
                        what = "message" if cls is Send else "fetch"
                        self.src.fail((*sp, "id"), f"a {what} keeps its id in every suite", "remove 'id' here")
                    per_suite.append(
                        (suite, self.build_step(apath, cls, {**values, **changed}, by_name, (sp, changed)))
                    )
            if isinstance(spec, Send):
                if spec.id in messages:
                    self.src.fail((*apath, "id"), f"message id '{spec.id}' is used by an earlier send")
                messages.add(spec.id)
            if isinstance(spec, Fetch):
                if spec.id in self.fetches:
                    self.src.fail((*apath, "id"), f"fetch id '{spec.id}' is used by an earlier fetch")
                self.fetches.add(spec.id)
            title = self.optional(raw, path, "title", lambda p: self.string(p, "title"), "")
            shown = tuple((k, _display(v)) for k, v in values.items())
            result.append(Step(spec, self.src.line(path), tuple(per_suite), title, shown))
        return tuple(result)

    def step_values(
        self,
        path: PathT,
        cls: type[StepSpec],
        raw: Any,
        nodes: dict[str, Node],
        networks: tuple[Network, ...],
        messages: set[str],
        partial: bool,
    ) -> dict[str, Any]:
        """The step's keys as written, each read with its declared type (by key name)."""
        keys = cls.keys()
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.src.fail(
                path, f"'{cls.action}' takes a mapping of keys", "allowed: " + ", ".join(k.name for k in keys)
            )
        if raw:
            self.mapping(path, [k.name for k in keys], f"'{cls.action}'")
        values: dict[str, Any] = {}
        for key in keys:
            if key.name not in raw or raw[key.name] is None:
                if key.required and not partial:
                    self.src.fail(path, f"'{cls.action}' needs the key '{key.name}' ({key.meaning})")
                continue
            values[key.name] = self.step_value((*path, key.name), key.type, nodes, networks, messages)
            if key.choices and values[key.name] not in key.choices:
                self.src.fail(
                    (*path, key.name),
                    f"'{values[key.name]}' is not one of {', '.join(key.choices)}",
                    suggest(str(values[key.name]), key.choices),
                )
        return values

    def build_step(
        self,
        path: PathT,
        cls: type[StepSpec],
        values: dict[str, Any],
        nodes: dict[str, Node],
        override: tuple[PathT, dict[str, Any]] | None = None,
    ) -> StepSpec:
        """The typed step, checked by its own rules; with ``override``, the version of a
        per_suite entry (its errors point at the overriding key where there is one)."""
        spec = cls(**{cls.key(name).field: value for name, value in values.items()})

        def fail(key: str, problem: str, fix: str = "") -> NoReturn:
            if key and override is not None and key in override[1]:
                self.src.fail((*override[0], key), problem, fix)
            self.src.fail((*path, key) if key else path, problem, fix)

        spec.validate(Checks(nodes, fail))
        return spec

    def step_value(
        self, path: PathT, type_: str, nodes: dict[str, Node], networks: tuple[Network, ...], messages: set[str]
    ) -> Any:
        if type_ in ("node", "mta", "sink_node", "smtp_source"):
            name = self.string(path, "node")
            if name not in nodes:
                self.src.fail(path, f"no node named '{name}'", suggest(name, nodes))
            node, kind = nodes[name], nodes[name].kind
            if type_ == "mta" and not capability(node, Mta):
                self.src.fail(path, f"'{name}' is a {kind} node, not an MTA ({names_with(Mta)})")
            if type_ == "sink_node" and not capability(node, CaptureSink):
                self.src.fail(path, f"'{name}' is a {kind} node, not a sink")
            if type_ == "smtp_source" and not capability(node, SmtpClient):
                self.src.fail(path, f"'{name}' is a {kind} node; SMTP sessions start at {names_with(SmtpClient)} nodes")
            return name
        if type_ == "network":
            name = self.string(path, "network")
            names = [n.name for n in networks]
            if name not in names:
                self.src.fail(path, f"no network named '{name}'", suggest(name, names))
            return name
        if type_ == "message":
            name = self.string(path, "message")
            if name not in messages:
                self.src.fail(path, f"no earlier send has id '{name}'", "a message must be sent before it is checked")
            return name
        if type_ == "fetch":
            name = self.string(path, "fetch")
            if name not in self.fetches:
                self.src.fail(
                    path, f"no earlier fetch has id '{name}'", "a mailbox must be fetched before it is checked"
                )
            return name
        if type_ == "addresses":
            addresses = self.strings(path, "addresses")
            for i, address in enumerate(addresses):
                if "\n" in address or "\r" in address:
                    self.src.fail((*path, i), "an address cannot hold a line break")
            return addresses
        if type_ == "str":
            return self.string(path, "value")
        if type_ == "regex":
            pattern = self.string(path, "pattern")
            self.regex(path, pattern)
            return pattern
        if type_ == "int":
            return self.integer(path, "value")
        if type_ == "bool":
            return self.boolean(path, "value")
        if type_ == "seconds":
            return self.seconds(path)
        if type_ == "ip":
            text = self.string(path, "address")
            try:
                return str(ipaddress.ip_address(text))  # IPv6 in its compressed form
            except ValueError:
                self.src.fail(path, f"'{text}' is not an IPv4 or IPv6 address")
        if type_ == "auth":
            raw = self.mapping(path, ("user", "password", "mechanism"), "auth")
            user = self.string((*path, "user"), "user") if "user" in raw else self.require(path, raw, "user", "auth")
            password = (
                self.string((*path, "password"), "password")
                if "password" in raw
                else self.require(path, raw, "password", "auth")
            )
            mechanism = self.optional(raw, path, "mechanism", lambda p: self.string(p, "mechanism"), "PLAIN")
            if mechanism not in AUTH_MECHANISMS:
                self.src.fail(
                    (*path, "mechanism"),
                    f"mechanism '{mechanism}' is not {', '.join(AUTH_MECHANISMS[:-1])} or {AUTH_MECHANISMS[-1]}",
                    suggest(mechanism, AUTH_MECHANISMS),
                )
            return SmtpAuth(user, password, mechanism)
        if type_ == "mapping":
            return self.pairs(path, "mapping")
        if type_ == "list":
            return self.strings(path, "list")
        raise AssertionError(f"unknown key type {type_}")


def _absolute(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _display(value: Any) -> str:
    """A step value as the file wrote it, for a step's description."""
    if isinstance(value, SmtpAuth):
        return str({"user": value.user, "password": value.password, "mechanism": value.mechanism})
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return str(dict(value))
    if isinstance(value, tuple):
        return str(list(value))
    return str(value)


def _known_type(name: str) -> bool:
    """A record type dnspython can read and write (not a meta type such as ANY or AXFR)."""
    try:
        rdtype = dns.rdatatype.from_text(name)
    except dns.exception.DNSException:
        return False
    return not dns.rdatatype.is_metatype(rdtype) and name != f"TYPE{int(rdtype)}"


def _zone_of(dns: Dns, name: str) -> Zone | None:
    """The scenario zone (the deepest one) that holds an absolute name."""
    best: Zone | None = None
    for zone in dns.zones:
        if name.lower() == zone.origin or name.lower().endswith("." + zone.origin):
            if best is None or len(zone.origin) > len(best.origin):
                best = zone
    return best


def _absolute_in(owner: str, origin: str) -> str:
    if owner == "@":
        return origin
    return owner.lower() if owner.endswith(".") else f"{owner.lower()}.{origin}"
