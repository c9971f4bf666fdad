"""Capture sink settings: the ``sink:`` key of a node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from harness.scenario.model import KindSettings
from harness.scenario.reader import Reader, suggest
from harness.scenario.source import PathT

KEYS = ("ports", "auth", "replies", "starttls", "authentication")
# When the sink reaches SPF, DKIM and DMARC verdicts: `auto`, for the messages of a scenario
# whose steps ask for them at this sink; `on`, always; `off`, never (a load test's sink).
AUTHENTICATION = ("auto", "on", "off")
Authentication = Literal["auto", "on", "off"]
MECHANISMS = ("PLAIN", "LOGIN")  # offered when `auth.mechanisms` is left out
KNOWN_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5")
PORT_TLS = ("implicit",)  # a port's own `tls:`: SMTPS, TLS from the first byte
REPLY_COMMANDS = ("connect", "helo", "auth", "mail", "rcpt", "data")
ReplyCommand = Literal["connect", "helo", "auth", "mail", "rcpt", "data"]


@dataclass(frozen=True)
class SinkAuth:
    required: bool = True
    mechanisms: tuple[str, ...] = MECHANISMS
    users: tuple[tuple[str, str], ...] = ()
    require_tls: bool = False  # offer AUTH only after STARTTLS


@dataclass(frozen=True)
class SinkReply:
    """A fixed reply the sink gives instead of its normal one (fault injection)."""

    command: ReplyCommand
    code: int
    text: str
    match: str = ""  # regular expression on the command's argument; empty: always


@dataclass(frozen=True)
class SinkSettings(KindSettings):
    ports: tuple[int, ...] = (25,)  # every port the sink listens on
    auth: SinkAuth | None = None
    replies: tuple[SinkReply, ...] = ()
    starttls: bool = False  # offer STARTTLS with a self-signed certificate made at start
    implicit_tls: tuple[int, ...] = ()  # the ports of `ports` that speak TLS from the first byte (SMTPS)
    authentication: Authentication = "auto"  # when SPF/DKIM/DMARC are checked (AUTHENTICATION)


def parse(r: Reader, path: PathT) -> SinkSettings:
    raw = r.mapping(path, KEYS, "sink settings")
    ports: tuple[int, ...] = (25,)
    implicit: tuple[int, ...] = ()
    if raw.get("ports") is not None:
        entries = _ports(r, (*path, "ports"))
        ports = tuple(port for port, _ in entries)
        implicit = tuple(port for port, tls in entries if tls == "implicit")
    auth = r.optional(raw, path, "auth", lambda p: _auth(r, p), None)
    replies = r.optional(raw, path, "replies", lambda p: _replies(r, p), ())
    starttls = r.optional(raw, path, "starttls", lambda p: r.boolean(p, "starttls"), False)
    authentication = r.optional(raw, path, "authentication", lambda p: _authentication(r, p), "auto")
    if auth is not None and auth.require_tls and not (starttls or implicit):
        r.fail(
            (*path, "auth", "require_tls"),
            "AUTH after STARTTLS needs the sink to offer STARTTLS",
            "add 'starttls: true', or a port with 'tls: implicit'",
        )
    return SinkSettings(
        ports=ports,
        auth=auth,
        replies=replies,
        starttls=starttls,
        implicit_tls=implicit,
        authentication=cast(Authentication, authentication),
    )


def _authentication(r: Reader, path: PathT) -> str:
    value = r.get(path)
    if isinstance(value, bool):  # YAML reads a bare on/off as a boolean
        value = "on" if value else "off"
    if not isinstance(value, str) or value not in AUTHENTICATION:
        r.fail(
            path,
            f"authentication is one of {', '.join(AUTHENTICATION)}, not {value!r}",
            "'auto' checks SPF, DKIM and DMARC when a step asks for a verdict at this sink; leave it out for that",
        )
    return value


def _ports(r: Reader, pp: PathT) -> list[tuple[int, str]]:
    """`ports`: one entry or a list; an entry is a port number or {port, tls}."""
    value = r.get(pp)
    paths = [(*pp, i) for i in range(len(value))] if isinstance(value, list) else [pp]
    if not paths:
        r.fail(pp, "a sink needs at least one port", "leave 'ports' out for port 25")
    entries: list[tuple[int, str]] = []
    for p in paths:
        tls = ""
        if isinstance(r.get(p), dict):
            body = r.mapping(p, ("port", "tls"), "a sink port")
            port = r.required(p, body, "port", "a sink port", lambda q: r.integer(q, "port"))
            tls = r.optional(body, p, "tls", lambda q: r.string(q, "tls"), "")
            if tls and tls not in PORT_TLS:
                r.fail(
                    (*p, "tls"),
                    f"a port's tls is 'implicit' (SMTPS, TLS from the first byte), not '{tls}'",
                    "STARTTLS is offered on the plain ports by 'starttls: true'",
                )
        else:
            port = r.integer(p, "port")
        if not 1 <= port <= 65535:
            r.fail(p, f"port {port} is out of range")
        if port in [e[0] for e in entries]:
            r.fail(p, f"port {port} is listed twice")
        entries.append((port, tls))
    return entries


def _auth(r: Reader, ap: PathT) -> SinkAuth:
    a = r.mapping(ap, ("required", "mechanisms", "users", "require_tls"), "sink auth")
    mechanisms = r.optional(a, ap, "mechanisms", lambda p: r.strings(p, "mechanisms"), MECHANISMS)
    for i, mech in enumerate(mechanisms):
        if mech not in KNOWN_MECHANISMS:
            r.fail(
                (*ap, "mechanisms", i),
                f"the sink offers {', '.join(KNOWN_MECHANISMS)}, not '{mech}'",
                suggest(mech, KNOWN_MECHANISMS),
            )
    if not mechanisms:
        r.fail((*ap, "mechanisms"), "no mechanism offered", "leave 'mechanisms' out for PLAIN and LOGIN")
    auth = SinkAuth(
        required=r.optional(a, ap, "required", lambda p: r.boolean(p, "required"), True),
        mechanisms=mechanisms,
        users=r.optional(a, ap, "users", lambda p: r.pairs(p, "users"), ()),
        require_tls=r.optional(a, ap, "require_tls", lambda p: r.boolean(p, "require_tls"), False),
    )
    if not auth.users:
        r.fail(ap, "sink auth needs at least one user", "add 'users: {account: password}'")
    return auth


def _replies(r: Reader, rp: PathT) -> tuple[SinkReply, ...]:
    if not isinstance(r.get(rp), list):
        r.fail(rp, "replies must be a list")
    replies = []
    for i in range(len(r.get(rp))):
        p = (*rp, i)
        body = r.mapping(p, ("command", "code", "text", "match"), "a sink reply")
        command = r.required(p, body, "command", "a sink reply", lambda q: r.string(q, "command"))
        if command not in REPLY_COMMANDS:
            r.fail((*p, "command"), f"unknown command '{command}'", "one of " + ", ".join(REPLY_COMMANDS))
        code = r.required(p, body, "code", "a sink reply", lambda q: r.integer(q, "code"))
        if not 200 <= code <= 599:
            r.fail((*p, "code"), f"{code} is not an SMTP reply code")
        match = r.optional(body, p, "match", lambda q: r.string(q, "match"), "")
        r.regex((*p, "match"), match)
        text = r.optional(body, p, "text", lambda q: r.string(q, "text"), "Injected reply")
        replies.append(SinkReply(cast(ReplyCommand, command), code, text, match))
    return tuple(replies)
