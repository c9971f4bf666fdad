"""The validated, immutable model of a scenario.

Everything here is built by :mod:`harness.scenario.loader`, which checks it; the rest of the
harness only reads it. Mappings are stored as tuples of pairs so that the objects are
hashable and cannot change after loading.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.steps.base import StepSpec

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


@dataclass(frozen=True)
class Network:
    name: str
    subnet: ipaddress.IPv4Network
    subnet6: ipaddress.IPv6Network | None = None  # a dual-stack network's IPv6 (ULA) subnet

    @property
    def dual_stack(self) -> bool:
        return self.subnet6 is not None


@dataclass(frozen=True)
class Attachment:
    network: str
    ip: ipaddress.IPv4Address
    ip6: ipaddress.IPv6Address | None = None  # its IPv6 address, on a dual-stack network


@dataclass(frozen=True)
class KindSettings:
    """Base of every node kind's settings (``harness/kinds/<kind>/settings.py``)."""


MAILBOX_PROTOCOLS = ("pop3", "imap")


@dataclass(frozen=True)
class MailboxService:
    """A node's ``mailbox_server:`` key: its local users' mailboxes served over POP3 and/or
    IMAP (by a kind with the MailboxServer capability), each user with a password."""

    protocols: tuple[str, ...] = MAILBOX_PROTOCOLS
    passwords: tuple[tuple[str, str], ...] = ()

    @property
    def users(self) -> tuple[str, ...]:
        return tuple(user for user, _ in self.passwords)


DKIM_CANONICALIZATIONS = ("relaxed/simple", "relaxed/relaxed", "simple/simple", "simple/relaxed")
DKIM_BITS = (1024, 2048)


@dataclass(frozen=True)
class DkimSigning:
    """A node's ``dkim:`` key: its MTA signs outgoing mail with DKIM (by a kind with the
    DkimSigner capability), with a key made in the node when it is configured; the public
    key is published in the topology's DNS as ``SELECTOR._domainkey.DOMAIN`` for every
    signing domain."""

    domain: str
    selector: str
    sign: tuple[str, ...] = ()  # the From: domains signed (the key's domain when empty)
    bits: int = 2048
    canonicalization: str = "relaxed/simple"

    @property
    def domains(self) -> tuple[str, ...]:
        return self.sign or (self.domain,)

    def record_name(self, domain: str) -> str:
        """The absolute owner name of the key's TXT record for a signing domain."""
        return f"{self.selector}._domainkey.{domain}."


@dataclass(frozen=True)
class UserFile:
    """A node's ``files:`` entry: a file of the user's, placed whole into the node (a
    production main.cf, header_checks, sendmail.mc, ...). Its kind combines it with what the
    topology needs and lists what it overrode."""

    target: str  # absolute path in the node, under /etc/
    source: str  # as written in the scenario: relative to the scenario file
    content: str

    def source_line(self, number: int) -> str:
        """Line ``number`` (from 1) of the file as the user wrote it ("" past its end)."""
        lines = self.content.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    hostname: str
    attachments: tuple[Attachment, ...]
    settings: KindSettings = field(default_factory=KindSettings)  # of the kind's own type
    users: tuple[str, ...] = ()
    # /etc/hosts entries added after Docker's own: (address, names)
    hosts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    image: str | None = None  # a user-supplied image instead of the built one
    mailbox_server: MailboxService | None = None  # POP3/IMAP access to its local mailboxes
    dkim: DkimSigning | None = None  # DKIM signing of the mail its MTA sends
    files: tuple[UserFile, ...] = ()  # the user's own files, placed whole (``files:``)

    def user_file(self, target: str) -> UserFile | None:
        """The user's file placed at ``target``, if the scenario gives one."""
        return next((f for f in self.files if f.target == target), None)

    @property
    def ip(self) -> ipaddress.IPv4Address:
        """The node's address on its first network."""
        return self.attachments[0].ip

    @property
    def ip6s(self) -> tuple[ipaddress.IPv6Address, ...]:
        """The node's IPv6 addresses on its dual-stack networks (none on IPv4-only ones)."""
        return tuple(a.ip6 for a in self.attachments if a.ip6 is not None)


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


@dataclass(frozen=True)
class Dns:
    server: str | None
    zones: tuple[Zone, ...] = ()
    behaviours: tuple[tuple[str, str], ...] = ()  # (absolute name, behaviour)
    host_records: bool = True


@dataclass(frozen=True)
class Step:
    """One step of a scenario: its typed action or expectation (``harness/steps``), where it
    is in the file, and the versions of it for given suites (``per_suite``)."""

    spec: StepSpec
    line: int | None
    per_suite: tuple[tuple[str, StepSpec], ...] = ()
    title: str = ""
    shown: tuple[tuple[str, str], ...] = ()  # the keys as the file wrote them, for describe()

    @property
    def action(self) -> str:
        return self.spec.action

    @property
    def expectation(self) -> bool:
        return self.spec.expectation

    def resolved(self, suite: str) -> StepSpec:
        """The step for ``suite``, with its per-suite overrides applied."""
        for name, spec in self.per_suite:
            if name == suite:
                return spec
        return self.spec

    def describe(self) -> str:
        if self.title:
            return self.title
        parts = ", ".join(f"{k}={_short(v)}" for k, v in self.shown)
        return f"{self.action}({parts})"


def _short(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


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
    # Record every SMTP session of the topology (harness.topology.capture).
    transcripts: bool = False

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

    def reads_authentication_at(self, name: str) -> bool:
        """Whether a step (on any suite) reads the SPF/DKIM/DMARC verdicts of sink ``name``."""
        return any(
            spec.reads_authentication_at() == name
            for step in self.steps
            for spec in (step.spec, *(spec for _, spec in step.per_suite))
        )

    @property
    def dns_node(self) -> Node | None:
        if self.dns is None or self.dns.server is None:
            return None
        return self.node(self.dns.server)
