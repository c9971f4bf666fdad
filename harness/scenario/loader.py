"""Load a scenario file into the immutable model, validating everything first.

A bad file fails here, with its file name, line, key path and what to change, before any
container or network exists.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from harness.scenario.model import (
    MTA_KINDS,
    NODE_KINDS,
    SUITES,
    Attachment,
    Dns,
    MapFile,
    Network,
    Node,
    PostfixConfig,
    Record,
    Scenario,
    SendmailConfig,
    SinkAuth,
    SinkConfig,
    SinkReply,
    Step,
    Zone,
)
from harness.scenario.source import PathT, Source, parse_source, read_source
from harness.scenario.steps import ACTIONS_BY_NAME, Action

T = TypeVar("T")
D = TypeVar("D")

TOP_KEYS = ("name", "description", "seed", "suites", "tags", "networks", "nodes", "dns", "steps")
NODE_KEYS = ("kind", "hostname", "networks", "users", "image", "postfix", "sendmail", "sink")
POSTFIX_KEYS = ("main", "master", "maps", "aliases", "remove_sasl_plugins")
SENDMAIL_KEYS = (
    "defines",
    "features",
    "mc",
    "cf",
    "access",
    "mailertable",
    "aliases",
    "local_host_names",
    "relay_domains",
    "queue_interval",
    "listen",
)
SINK_KEYS = ("ports", "auth", "replies", "starttls")
DNS_KEYS = ("server", "zones", "behaviours", "host_records")
DNS_BEHAVIOURS = ("nxdomain", "nodata", "servfail", "drop")
RECORD_TYPES = ("A", "AAAA", "MX", "CNAME", "PTR", "TXT", "NS", "SRV")
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")
HOST_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Docker's default bridge and address pools: a topology subnet inside them could clash.
RESERVED_NETS = (ipaddress.ip_network("172.17.0.0/16"),)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file."""
    path = Path(path)
    return _Loader(read_source(path), default_name=path.stem).scenario()


def load_scenario_text(text: str, name: str = "<scenario>") -> Scenario:
    """Validate scenario text (tests, generated scenarios)."""
    return _Loader(parse_source(text, name), default_name=Path(name).stem).scenario()


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "allowed: " + ", ".join(choices)


class _Loader:
    def __init__(self, src: Source, default_name: str) -> None:
        self.src = src
        self.default_name = default_name

    # ---- generic readers -------------------------------------------------------------------
    def get(self, path: PathT) -> Any:
        value = self.src.data
        for part in path:
            value = value[part]
        return value

    def mapping(self, path: PathT, allowed: Iterable[str], what: str) -> dict[str, Any]:
        value = self.get(path)
        if not isinstance(value, dict):
            self.src.fail(path, f"{what} must be a mapping, not {_type_name(value)}")
        allowed = tuple(allowed)
        for key in value:
            if key not in allowed:
                self.src.fail((*path, key), f"unknown key '{key}' in {what}", _suggest(key, allowed))
        return value

    def require(self, path: PathT, value: dict[str, Any], key: str, what: str) -> Any:
        if key not in value or value[key] is None:
            self.src.fail(path, f"{what} needs the key '{key}'", f"add '{key}:'")
        return value[key]

    def string(self, path: PathT, what: str) -> str:
        value = self.get(path)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.src.fail(path, f"{what} must be a string, not {_type_name(value)}")
        return self.text_of(path, value)

    def text_of(self, path: PathT, value: Any) -> str:
        """A scalar as text, numbers as written in the file (`3.10` stays "3.10", not "3.1")."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.src.texts.get(path, str(value))
        return str(value)

    def integer(self, path: PathT, what: str) -> int:
        value = self.get(path)
        if isinstance(value, bool) or not isinstance(value, int):
            self.src.fail(path, f"{what} must be a whole number, not {_type_name(value)}")
        return value

    def boolean(self, path: PathT, what: str) -> bool:
        value = self.get(path)
        if not isinstance(value, bool):
            self.src.fail(path, f"{what} must be true or false, not {_type_name(value)}")
        return value

    def strings(self, path: PathT, what: str) -> tuple[str, ...]:
        value = self.get(path)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return (str(value),)
        if not isinstance(value, list):
            self.src.fail(path, f"{what} must be a list of strings, not {_type_name(value)}")
        return tuple(self.string((*path, i), what) for i in range(len(value)))

    def pairs(self, path: PathT, what: str) -> tuple[tuple[str, str], ...]:
        value = self.get(path)
        if not isinstance(value, dict):
            self.src.fail(path, f"{what} must be a mapping of names to values, not {_type_name(value)}")
        return tuple((str(k), self._scalar_text((*path, k), what)) for k in value)

    def _scalar_text(self, path: PathT, what: str) -> str:
        value = self.get(path)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)):
            self.src.fail(path, f"{what}: each value must be a string, not {_type_name(value)}")
        return self.text_of(path, value)

    def optional(self, value: dict[str, Any], path: PathT, key: str, read: Callable[[PathT], T], default: D) -> T | D:
        if key not in value or value[key] is None:
            return default
        return read((*path, key))

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
                self.src.fail(("suites", i), f"unknown suite '{suite}'", _suggest(suite, SUITES))
        networks = self.networks(top)
        nodes = self.nodes(top, networks)
        dns = self.dns(top, nodes)
        steps = self.steps(top, nodes, networks)
        return Scenario(
            name=name,
            file=self.src.file,
            description=self.optional(top, (), "description", lambda p: self.string(p, "description"), ""),
            seed=self.optional(top, (), "seed", lambda p: self.string(p, "seed"), ""),
            tags=self.optional(top, (), "tags", lambda p: self.strings(p, "tags"), ()),
            suites=tuple(suites),
            networks=networks,
            nodes=nodes,
            dns=dns,
            steps=steps,
        )

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
            body = self.mapping(path, ("subnet",), f"network '{name}'")
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
            result.append(Network(name, subnet))
        return tuple(result)

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
        used_ips: dict[ipaddress.IPv4Address, str] = {}
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
        self, path: PathT, name: str, networks: tuple[Network, ...], used_ips: dict[ipaddress.IPv4Address, str]
    ) -> Node:
        self.check_name(path, name, "node")
        body = self.mapping(path, NODE_KEYS, f"node '{name}'")
        kind = (
            self.string((*path, "kind"), "kind")
            if "kind" in body
            else self.require(path, body, "kind", f"node '{name}'")
        )
        if kind not in NODE_KINDS:
            self.src.fail((*path, "kind"), f"unknown node kind '{kind}'", _suggest(kind, NODE_KINDS))
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
        for other in ("postfix", "sendmail", "sink"):
            if other in body and other != kind:
                self.src.fail((*path, other), f"node '{name}' is of kind {kind}: '{other}' settings do not apply")
        users = self.optional(body, path, "users", lambda p: self.strings(p, "users"), ())
        for i, user in enumerate(users):
            if not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", user):
                self.src.fail((*path, "users", i), f"'{user}' is not a valid user name")
        if users and kind not in MTA_KINDS:
            self.src.fail((*path, "users"), "local users exist only on MTA nodes")
        return Node(
            name=name,
            kind=kind,
            hostname=hostname,
            attachments=attachments,
            postfix=self.postfix((*path, "postfix"), body) if kind == "postfix" else None,
            sendmail=self.sendmail((*path, "sendmail"), body) if kind == "sendmail" else None,
            sink=self.sink((*path, "sink"), body) if kind == "sink" else None,
            users=users,
            image=self.optional(body, path, "image", lambda p: self.string(p, "image"), None),
        )

    def attachments(
        self,
        path: PathT,
        body: dict[str, Any],
        name: str,
        networks: tuple[Network, ...],
        used_ips: dict[ipaddress.IPv4Address, str],
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
                self.src.fail((*path, net_name), f"no network named '{net_name}'", _suggest(net_name, by_name))
        if not raw:
            self.src.fail(path, f"node '{name}' is on no network")
        result = []
        for net_name in raw:
            net = by_name[net_name]
            text = self.string((*path, net_name), "address")
            try:
                ip = ipaddress.IPv4Address(text)
            except ValueError:
                self.src.fail((*path, net_name), f"'{text}' is not an IPv4 address")
            if ip not in net.subnet:
                self.src.fail(
                    (*path, net_name),
                    f"{ip} is not inside network '{net_name}' ({net.subnet})",
                    "pick an address inside the subnet",
                )
            gateway = net.subnet.network_address + 1  # Docker's gateway: the first host address
            if ip in (net.subnet.network_address, net.subnet.broadcast_address, gateway):
                self.src.fail((*path, net_name), f"{ip} is reserved in {net.subnet} (network, gateway or broadcast)")
            if ip in used_ips:
                self.src.fail((*path, net_name), f"{ip} is already node '{used_ips[ip]}'s address")
            used_ips[ip] = name
            result.append(Attachment(net_name, ip))
        return tuple(result)

    def postfix(self, path: PathT, body: dict[str, Any]) -> PostfixConfig:
        if "postfix" not in body or body["postfix"] is None:
            return PostfixConfig()
        raw = self.mapping(path, POSTFIX_KEYS, "postfix settings")
        main = self.optional(raw, path, "main", lambda p: self.pairs(p, "postfix.main"), ())
        for key, _ in main:
            if not re.match(r"^[a-z0-9_]+$", key):
                self.src.fail((*path, "main", key), f"'{key}' is not a Postfix parameter name")
        return PostfixConfig(
            main=main,
            master=self.optional(raw, path, "master", lambda p: self.strings(p, "postfix.master"), ()),
            maps=self.optional(
                raw, path, "maps", lambda p: self.maps(p, ("hash", "btree", "cidr", "regexp", "texthash", "none")), ()
            ),
            aliases=self.optional(raw, path, "aliases", lambda p: self.pairs(p, "postfix.aliases"), ()),
            remove_sasl_plugins=self.optional(
                raw, path, "remove_sasl_plugins", lambda p: self.boolean(p, "remove_sasl_plugins"), False
            ),
        )

    def maps(self, path: PathT, types: tuple[str, ...]) -> tuple[MapFile, ...]:
        raw = self.mapping(path, self.get(path).keys() if isinstance(self.get(path), dict) else (), "maps")
        result = []
        for file_path, spec in raw.items():
            p = (*path, file_path)
            if not file_path.startswith("/etc/"):
                self.src.fail(p, f"map path '{file_path}' must be an absolute path under /etc/")
            if isinstance(spec, str):
                result.append(MapFile(file_path, _ensure_newline(spec), "hash"))
                continue
            body = self.mapping(p, ("type", "content"), f"map {file_path}")
            map_type = self.optional(body, p, "type", lambda q: self.string(q, "type"), "hash")
            if map_type not in types:
                self.src.fail((*p, "type"), f"unknown map type '{map_type}'", _suggest(map_type, types))
            content = (
                self.string((*p, "content"), "content")
                if "content" in body
                else self.require(p, body, "content", f"map {file_path}")
            )
            result.append(MapFile(file_path, _ensure_newline(content), map_type))
        return tuple(result)

    def sendmail(self, path: PathT, body: dict[str, Any]) -> SendmailConfig:
        if "sendmail" not in body or body["sendmail"] is None:
            return SendmailConfig()
        raw = self.mapping(path, SENDMAIL_KEYS, "sendmail settings")
        cf = self.optional(raw, path, "cf", lambda p: self.strings(p, "sendmail.cf"), ())
        for i, line in enumerate(cf):
            if not re.match(r"^(D\S|O \S+=|C\S|F\S)", line):
                self.src.fail(
                    (*path, "cf", i),
                    f"'{line}' is not a sendmail.cf macro, class or option line",
                    "write e.g. 'DS[10.11.12.13]' or 'O FallbackSmartHost=fallback.example.test'",
                )
        interval = self.optional(raw, path, "queue_interval", lambda p: self.string(p, "queue_interval"), "10s")
        if not re.match(r"^\d+[smh]$", interval):
            self.src.fail((*path, "queue_interval"), f"'{interval}' is not a sendmail interval", "write e.g. 10s or 5m")
        return SendmailConfig(
            defines=self.optional(raw, path, "defines", lambda p: self.pairs(p, "sendmail.defines"), ()),
            features=self.optional(raw, path, "features", lambda p: self.strings(p, "sendmail.features"), ()),
            mc=self.optional(raw, path, "mc", lambda p: self.strings(p, "sendmail.mc"), ()),
            cf=cf,
            access=self.optional(raw, path, "access", lambda p: self.pairs(p, "sendmail.access"), ()),
            mailertable=self.optional(raw, path, "mailertable", lambda p: self.pairs(p, "sendmail.mailertable"), ()),
            aliases=self.optional(raw, path, "aliases", lambda p: self.pairs(p, "sendmail.aliases"), ()),
            local_host_names=self.optional(
                raw, path, "local_host_names", lambda p: self.strings(p, "local_host_names"), ()
            ),
            relay_domains=self.optional(raw, path, "relay_domains", lambda p: self.strings(p, "relay_domains"), ()),
            queue_interval=interval,
            listen=self.optional(raw, path, "listen", lambda p: self.string(p, "listen"), "0.0.0.0"),
        )

    def sink(self, path: PathT, body: dict[str, Any]) -> SinkConfig:
        if "sink" not in body or body["sink"] is None:
            return SinkConfig()
        raw = self.mapping(path, SINK_KEYS, "sink settings")
        ports: tuple[int, ...] = (25,)
        if raw.get("ports") is not None:
            value = raw["ports"]
            items = value if isinstance(value, list) else [value]
            if isinstance(value, list):
                ports = tuple(self.integer((*path, "ports", i), "port") for i in range(len(items)))
            else:
                ports = (self.integer((*path, "ports"), "port"),)
            if not ports:
                self.src.fail((*path, "ports"), "a sink needs at least one port", "leave 'ports' out for port 25")
            for port in ports:
                if not 1 <= port <= 65535:
                    self.src.fail((*path, "ports"), f"port {port} is out of range")
        auth = None
        if raw.get("auth") is not None:
            ap = (*path, "auth")
            a = self.mapping(ap, ("required", "mechanisms", "users", "require_tls"), "sink auth")
            mechanisms = self.optional(a, ap, "mechanisms", lambda p: self.strings(p, "mechanisms"), ("PLAIN", "LOGIN"))
            for i, mech in enumerate(mechanisms):
                if mech not in ("PLAIN", "LOGIN"):
                    self.src.fail((*ap, "mechanisms", i), f"the sink offers PLAIN and LOGIN, not '{mech}'")
            auth = SinkAuth(
                required=self.optional(a, ap, "required", lambda p: self.boolean(p, "required"), True),
                mechanisms=mechanisms,
                users=self.optional(a, ap, "users", lambda p: self.pairs(p, "users"), ()),
                require_tls=self.optional(a, ap, "require_tls", lambda p: self.boolean(p, "require_tls"), False),
            )
            if not auth.users:
                self.src.fail(ap, "sink auth needs at least one user", "add 'users: {account: password}'")
        replies = []
        if raw.get("replies") is not None:
            rp = (*path, "replies")
            if not isinstance(raw["replies"], list):
                self.src.fail(rp, "replies must be a list")
            for i in range(len(raw["replies"])):
                p = (*rp, i)
                r = self.mapping(p, ("command", "code", "text", "match"), "a sink reply")
                command = (
                    self.string((*p, "command"), "command")
                    if "command" in r
                    else self.require(p, r, "command", "a sink reply")
                )
                if command not in ("connect", "helo", "mail", "rcpt", "data"):
                    self.src.fail(
                        (*p, "command"), f"unknown command '{command}'", "one of connect, helo, mail, rcpt, data"
                    )
                code = self.integer((*p, "code"), "code") if "code" in r else self.require(p, r, "code", "a sink reply")
                if not 200 <= code <= 599:
                    self.src.fail((*p, "code"), f"{code} is not an SMTP reply code")
                match = self.optional(r, p, "match", lambda q: self.string(q, "match"), "")
                self.regex((*p, "match"), match)
                text = self.optional(r, p, "text", lambda q: self.string(q, "text"), "Injected reply")
                replies.append(SinkReply(command, code, text, match))  # type: ignore[arg-type]
        starttls = self.optional(raw, path, "starttls", lambda p: self.boolean(p, "starttls"), False)
        if auth is not None and auth.require_tls and not starttls:
            self.src.fail(
                (*path, "auth", "require_tls"),
                "AUTH after STARTTLS needs the sink to offer STARTTLS",
                "add 'starttls: true'",
            )
        return SinkConfig(ports=ports, auth=auth, replies=tuple(replies), starttls=starttls)

    def regex(self, path: PathT, pattern: str) -> None:
        try:
            re.compile(pattern)
        except re.error as exc:
            self.src.fail(path, f"'{pattern}' is not a valid regular expression: {exc}")

    # ---- DNS ---------------------------------------------------------------------------------
    def dns(self, top: dict[str, Any], nodes: tuple[Node, ...]) -> Dns | None:
        bind_nodes = [n for n in nodes if n.kind == "bind"]
        if "dns" not in top or top["dns"] is None:
            if bind_nodes:
                return Dns(server=bind_nodes[0].name)
            return None
        raw = self.mapping(("dns",), DNS_KEYS, "dns")
        server = self.optional(raw, ("dns",), "server", lambda p: self.string(p, "server"), None)
        if server is None:
            if not bind_nodes:
                self.src.fail(("dns",), "dns needs a node of kind bind to serve it", "add a node of kind bind")
            if len(bind_nodes) > 1:
                names = ", ".join(n.name for n in bind_nodes)
                self.src.fail(
                    ("dns",), f"dns needs 'server:' naming one of the bind nodes ({names})", "add 'server: <node>'"
                )
            server = bind_nodes[0].name
        elif server not in {n.name for n in bind_nodes}:
            fix = _suggest(server, [n.name for n in bind_nodes]) if bind_nodes else "add a node of kind bind"
            self.src.fail(("dns", "server"), f"'{server}' is not a node of kind bind", fix)
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
                        _suggest(behaviour, DNS_BEHAVIOURS),
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
            records.append(self.record((*path, i), line))
        return Zone(_absolute(origin), tuple(records))

    def record(self, path: PathT, line: str) -> Record:
        fix = "write '<owner> [ttl] <TYPE> <data>', e.g. '@ MX 10 mx' or 'mx A 10.201.0.25'"
        m = re.match(r"^(\S+)\s+(?:(\d+)\s+)?([A-Za-z]+)\s+(\S.*)$", line.strip())
        if m is None:
            self.src.fail(path, f"record '{line}' is not '<owner> [ttl] <TYPE> <data>'", fix)
        owner, ttl_text, type_text, rdata_text = m.groups()
        ttl = int(ttl_text) if ttl_text else None
        rest = [type_text, rdata_text]
        rtype = rest[0].upper()
        if rtype not in RECORD_TYPES:
            self.src.fail(path, f"record type '{rest[0]}' is not supported", _suggest(rtype, RECORD_TYPES))
        rdata = rest[1].strip()
        if rtype == "A":
            try:
                ipaddress.IPv4Address(rdata)
            except ValueError:
                self.src.fail(path, f"'{rdata}' is not an IPv4 address for an A record")
        if rtype == "MX" and not re.match(r"^\d+\s+\S+$", rdata):
            self.src.fail(path, f"MX data '{rdata}' must be '<preference> <host>'")
        return Record(owner, ttl, rtype, rdata)

    # ---- steps -------------------------------------------------------------------------------
    def steps(self, top: dict[str, Any], nodes: tuple[Node, ...], networks: tuple[Network, ...]) -> tuple[Step, ...]:
        if top.get("steps") is None:
            return ()
        if not isinstance(top["steps"], list):
            self.src.fail(("steps",), "steps must be a list")
        by_name = {n.name: n for n in nodes}
        messages: set[str] = set()
        result = []
        for i, raw in enumerate(top["steps"]):
            path: PathT = ("steps", i)
            if not isinstance(raw, dict):
                self.src.fail(path, f"a step must be a mapping with one action, not {_type_name(raw)}")
            actions = [k for k in raw if k not in ("title", "per_suite")]
            if len(actions) != 1:
                self.src.fail(
                    path, f"a step has exactly one action, found {len(actions)}: {', '.join(actions) or 'none'}"
                )
            name = actions[0]
            action = ACTIONS_BY_NAME.get(name)
            if action is None:
                self.src.fail((*path, name), f"unknown action '{name}'", _suggest(name, ACTIONS_BY_NAME))
            args = self.step_args((*path, name), action, raw[name], by_name, networks, messages, partial=False)
            per_suite = []
            if raw.get("per_suite") is not None:
                pp = (*path, "per_suite")
                overrides = self.mapping(pp, SUITES, "per_suite")
                for suite in overrides:
                    values = self.step_args(
                        (*pp, suite), action, overrides[suite], by_name, networks, messages, partial=True
                    )
                    if name == "send":
                        if "id" in values:
                            self.src.fail(
                                (*pp, suite, "id"), "a message keeps its id in every suite", "remove 'id' here"
                            )
                        self.check_send((*path, name), {**args, **values}, by_name, ((*pp, suite), values))
                    per_suite.append((suite, tuple(values.items())))
            if name == "send":
                if args["id"] in messages:
                    self.src.fail((*path, name, "id"), f"message id '{args['id']}' is used by an earlier send")
                messages.add(args["id"])
            title = self.optional(raw, path, "title", lambda p: self.string(p, "title"), "")
            result.append(Step(name, tuple(args.items()), self.src.line(path), tuple(per_suite), title))
        return tuple(result)

    def step_args(
        self,
        path: PathT,
        action: Action,
        raw: Any,
        nodes: dict[str, Node],
        networks: tuple[Network, ...],
        messages: set[str],
        partial: bool,
    ) -> dict[str, Any]:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.src.fail(
                path, f"'{action.name}' takes a mapping of keys", "allowed: " + ", ".join(k.name for k in action.keys)
            )
        if raw:
            self.mapping(path, [k.name for k in action.keys], f"'{action.name}'")
        values: dict[str, Any] = {}
        for key in action.keys:
            if key.name not in raw or raw[key.name] is None:
                if key.required and not partial:
                    self.src.fail(path, f"'{action.name}' needs the key '{key.name}' ({key.meaning})")
                continue
            values[key.name] = self.step_value((*path, key.name), key.type, nodes, networks, messages)
            if key.choices and values[key.name] not in key.choices:
                self.src.fail((*path, key.name), f"'{values[key.name]}' is not one of {', '.join(key.choices)}")
        if action.name == "send" and not partial:
            self.check_send(path, values, nodes)
        return values

    def check_send(
        self,
        path: PathT,
        values: dict[str, Any],
        nodes: dict[str, Node],
        override: tuple[PathT, dict[str, Any]] | None = None,
    ) -> None:
        """The rules between a send's keys; with ``override``, for the keys after a per_suite override."""

        def at(key: str) -> PathT:
            if override is not None and key in override[1]:
                return (*override[0], key)
            return (*path, key)

        source = nodes[values["from"]]
        if source.kind in ("client", "sink"):
            if "server" not in values and "server_ip" not in values:
                self.src.fail(path, f"an SMTP send from '{source.name}' needs 'server:' (the node to connect to)")
        else:
            for key in ("server", "server_ip", "port", "helo", "auth", "starttls"):
                if key in values:
                    self.src.fail(
                        at(key),
                        f"'{key}' applies to SMTP sessions from client or sink nodes, not to a submission at {source.kind} node '{source.name}'",
                    )
            if source.kind == "bind":
                self.src.fail(at("from"), "mail cannot start at a bind node")
        if "server_ip" in values:
            addresses = {str(a.ip) for n in nodes.values() for a in n.attachments}
            if values["server_ip"] not in addresses:
                self.src.fail(
                    at("server_ip"),
                    f"{values['server_ip']} is no node's address in this topology",
                    "tests only talk to the topology's own nodes",
                )

    def step_value(
        self, path: PathT, type_: str, nodes: dict[str, Node], networks: tuple[Network, ...], messages: set[str]
    ) -> Any:
        if type_ in ("node", "mta", "sink", "smtp_source"):
            name = self.string(path, "node")
            if name not in nodes:
                self.src.fail(path, f"no node named '{name}'", _suggest(name, nodes))
            kind = nodes[name].kind
            if type_ == "mta" and kind not in MTA_KINDS:
                self.src.fail(path, f"'{name}' is a {kind} node, not an MTA (postfix or sendmail)")
            if type_ == "sink" and kind != "sink":
                self.src.fail(path, f"'{name}' is a {kind} node, not a sink")
            if type_ == "smtp_source" and kind not in ("client", "sink"):
                self.src.fail(path, f"'{name}' is a {kind} node; SMTP sessions start at client or sink nodes")
            return name
        if type_ == "network":
            name = self.string(path, "network")
            names = [n.name for n in networks]
            if name not in names:
                self.src.fail(path, f"no network named '{name}'", _suggest(name, names))
            return name
        if type_ == "message":
            name = self.string(path, "message")
            if name not in messages:
                self.src.fail(path, f"no earlier send has id '{name}'", "a message must be sent before it is checked")
            return name
        if type_ == "addresses":
            addresses = self.strings(path, "addresses")
            for i, address in enumerate(addresses):
                if "\n" in address or "\r" in address:
                    self.src.fail((*path, i), "an address cannot hold a line break")
            return list(addresses)
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
            value = self.get(path)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                self.src.fail(path, f"expected a number of seconds, not {value!r}")
            return float(value)
        if type_ == "ip":
            text = self.string(path, "address")
            try:
                ipaddress.IPv4Address(text)
            except ValueError:
                self.src.fail(path, f"'{text}' is not an IPv4 address")
            return text
        if type_ == "auth":
            raw = self.mapping(path, ("user", "password", "mechanism"), "auth")
            user = self.string((*path, "user"), "user") if "user" in raw else self.require(path, raw, "user", "auth")
            password = (
                self.string((*path, "password"), "password")
                if "password" in raw
                else self.require(path, raw, "password", "auth")
            )
            mechanism = self.optional(raw, path, "mechanism", lambda p: self.string(p, "mechanism"), "PLAIN")
            if mechanism not in ("PLAIN", "LOGIN"):
                self.src.fail((*path, "mechanism"), f"mechanism '{mechanism}' is not PLAIN or LOGIN")
            return {"user": user, "password": password, "mechanism": mechanism}
        if type_ == "mapping":
            return dict(self.pairs(path, "mapping"))
        if type_ == "list":
            return list(self.strings(path, "list"))
        raise AssertionError(f"unknown key type {type_}")


def _absolute(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _ensure_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true/false",
    }.get(type(value), type(value).__name__)
