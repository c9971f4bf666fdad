"""Capture sink settings: the ``sink:`` key of a node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from harness.scenario.model import KindSettings
from harness.scenario.reader import Reader
from harness.scenario.source import PathT

KEYS = ("ports", "auth", "replies", "starttls")
MECHANISMS = ("PLAIN", "LOGIN")
REPLY_COMMANDS = ("connect", "helo", "mail", "rcpt", "data")
ReplyCommand = Literal["connect", "helo", "mail", "rcpt", "data"]


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
    ports: tuple[int, ...] = (25,)
    auth: SinkAuth | None = None
    replies: tuple[SinkReply, ...] = ()
    starttls: bool = False  # offer STARTTLS with a self-signed certificate made at start


def parse(r: Reader, path: PathT) -> SinkSettings:
    raw = r.mapping(path, KEYS, "sink settings")
    ports: tuple[int, ...] = (25,)
    if raw.get("ports") is not None:
        value = raw["ports"]
        if isinstance(value, list):
            ports = tuple(r.integer((*path, "ports", i), "port") for i in range(len(value)))
        else:
            ports = (r.integer((*path, "ports"), "port"),)
        if not ports:
            r.fail((*path, "ports"), "a sink needs at least one port", "leave 'ports' out for port 25")
        for port in ports:
            if not 1 <= port <= 65535:
                r.fail((*path, "ports"), f"port {port} is out of range")
    auth = r.optional(raw, path, "auth", lambda p: _auth(r, p), None)
    replies = r.optional(raw, path, "replies", lambda p: _replies(r, p), ())
    starttls = r.optional(raw, path, "starttls", lambda p: r.boolean(p, "starttls"), False)
    if auth is not None and auth.require_tls and not starttls:
        r.fail(
            (*path, "auth", "require_tls"),
            "AUTH after STARTTLS needs the sink to offer STARTTLS",
            "add 'starttls: true'",
        )
    return SinkSettings(ports=ports, auth=auth, replies=replies, starttls=starttls)


def _auth(r: Reader, ap: PathT) -> SinkAuth:
    a = r.mapping(ap, ("required", "mechanisms", "users", "require_tls"), "sink auth")
    mechanisms = r.optional(a, ap, "mechanisms", lambda p: r.strings(p, "mechanisms"), MECHANISMS)
    for i, mech in enumerate(mechanisms):
        if mech not in MECHANISMS:
            r.fail((*ap, "mechanisms", i), f"the sink offers PLAIN and LOGIN, not '{mech}'")
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
