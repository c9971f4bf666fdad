"""The validated, immutable model of a scenario.

Everything here is built by :mod:`harness.scenario.loader`, which checks it; the rest of the
harness only reads it. Mappings are stored as tuples of pairs so that the objects are
hashable and cannot change after loading.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Literal

SUITES = ("bullseye", "bookworm", "trixie")
DEFAULT_SUITE = "bookworm"


def parse_suites(values: list[str] | None) -> tuple[str, ...]:
    """Suites from command-line values: repeated and/or comma separated, 'all' for every
    suite; the default suite when none is given. Raises ValueError naming an unknown one."""
    suites: list[str] = []
    for value in values or []:
        for part in (p.strip() for p in value.split(",")):
            if part == "all":
                suites.extend(SUITES)
            elif part in SUITES:
                suites.append(part)
            elif part:
                raise ValueError(f"unknown MTA suite '{part}' (choose from {', '.join(SUITES)} or all)")
    return tuple(dict.fromkeys(suites)) or (DEFAULT_SUITE,)


NodeKind = Literal["postfix", "sendmail", "bind", "sink", "client"]
MTA_KINDS = ("postfix", "sendmail")
NODE_KINDS: tuple[str, ...] = ("postfix", "sendmail", "bind", "sink", "client")


@dataclass(frozen=True)
class Network:
    name: str
    subnet: ipaddress.IPv4Network


@dataclass(frozen=True)
class Attachment:
    network: str
    ip: ipaddress.IPv4Address


@dataclass(frozen=True)
class MapFile:
    """A lookup table file, written verbatim and compiled with the service's own tool."""

    path: str
    content: str
    type: str = "hash"  # postmap/makemap type; "none" writes the file only


@dataclass(frozen=True)
class PostfixConfig:
    main: tuple[tuple[str, str], ...] = ()
    master: tuple[str, ...] = ()  # whole master.cf lines, appended
    maps: tuple[MapFile, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()  # /etc/aliases entries (postmaster kept)
    remove_sasl_plugins: bool = False


@dataclass(frozen=True)
class SendmailConfig:
    defines: tuple[tuple[str, str], ...] = ()
    features: tuple[str, ...] = ()  # argument lists as written, e.g. "`access_db', `hash -T<TMPF> /etc/mail/access'"
    mc: tuple[str, ...] = ()  # extra raw .mc lines, before the MAILER lines
    cf: tuple[str, ...] = ()  # raw sendmail.cf lines that replace the generated line of the same key
    access: tuple[tuple[str, str], ...] = ()
    mailertable: tuple[tuple[str, str], ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    local_host_names: tuple[str, ...] = ()
    relay_domains: tuple[str, ...] = ()
    queue_interval: str = "10s"
    listen: str = "0.0.0.0"


@dataclass(frozen=True)
class SinkAuth:
    required: bool = True
    mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN")
    users: tuple[tuple[str, str], ...] = ()
    require_tls: bool = False  # offer AUTH only after STARTTLS


@dataclass(frozen=True)
class SinkReply:
    """A fixed reply the sink gives instead of its normal one (fault injection)."""

    command: Literal["connect", "helo", "mail", "rcpt", "data"]
    code: int
    text: str
    match: str = ""  # regular expression on the command's argument; empty: always


@dataclass(frozen=True)
class SinkConfig:
    ports: tuple[int, ...] = (25,)
    auth: SinkAuth | None = None
    replies: tuple[SinkReply, ...] = ()
    starttls: bool = False  # offer STARTTLS with a self-signed certificate made at start


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    hostname: str
    attachments: tuple[Attachment, ...]
    postfix: PostfixConfig | None = None
    sendmail: SendmailConfig | None = None
    sink: SinkConfig | None = None
    users: tuple[str, ...] = ()
    image: str | None = None  # a user-supplied image instead of the built one

    @property
    def ip(self) -> ipaddress.IPv4Address:
        """The node's address on its first network."""
        return self.attachments[0].ip

    @property
    def is_mta(self) -> bool:
        return self.kind in MTA_KINDS


@dataclass(frozen=True)
class Record:
    """One resource record, relative or absolute owner, as in a zone file."""

    owner: str
    ttl: int | None
    rtype: str
    rdata: str


@dataclass(frozen=True)
class Zone:
    origin: str  # absolute, with trailing dot
    records: tuple[Record, ...]


DnsBehaviour = Literal["nxdomain", "nodata", "servfail", "drop"]


@dataclass(frozen=True)
class Dns:
    server: str | None
    zones: tuple[Zone, ...] = ()
    behaviours: tuple[tuple[str, str], ...] = ()  # (absolute name, behaviour)
    host_records: bool = True


@dataclass(frozen=True)
class Step:
    """One step of a scenario: an action or an expectation.

    ``args`` keeps the step's own keys (validated per action by the loader); ``per_suite``
    holds overrides of those keys for given suites.
    """

    action: str
    args: tuple[tuple[str, Any], ...]
    line: int | None
    per_suite: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    title: str = ""

    def resolved(self, suite: str) -> dict[str, Any]:
        """The step's arguments for ``suite``, with its per-suite overrides applied."""
        values = dict(self.args)
        for name, overrides in self.per_suite:
            if name == suite:
                values.update(dict(overrides))
        return values

    def describe(self) -> str:
        if self.title:
            return self.title
        parts = ", ".join(f"{k}={_short(v)}" for k, v in self.args)
        return f"{self.action}({parts})"


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Scenario:
    name: str
    file: str
    description: str
    networks: tuple[Network, ...]
    nodes: tuple[Node, ...]
    dns: Dns | None
    steps: tuple[Step, ...]
    suites: tuple[str, ...] = SUITES
    seed: str = ""
    tags: tuple[str, ...] = field(default=())

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def network(self, name: str) -> Network:
        for net in self.networks:
            if net.name == name:
                return net
        raise KeyError(name)

    @property
    def dns_node(self) -> Node | None:
        if self.dns is None or self.dns.server is None:
            return None
        return self.node(self.dns.server)
