"""Fetching a mailbox over POP3 or IMAP from a client or sink node (the agent's
``mail_fetch.py``), with what the server said at each stage and the messages it gave."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.errors import StepError
from harness.kinds import SmtpClient, capability
from harness.topology.agents import call_agent

if TYPE_CHECKING:
    from harness.topology.node import NodeHandle

FETCH_TIMEOUT = 30
STANDARD_PORTS = {"pop3": 110, "imap": 143}
STAGES = ("connect", "user", "login", "count", "retrieve", "delete", "quit")
# What a fetch came to (the ``expect`` of a fetch step).
OUTCOMES = ("ok", "auth_failed", "refused")


@dataclass
class ServerReply:
    stage: str  # connect, user, login, count, retrieve, delete, quit
    ok: bool
    text: str

    def __str__(self) -> str:
        return f"{self.stage}: {self.text}"


@dataclass
class Fetched:
    """A mailbox fetch the harness made, and how it went."""

    name: str
    source: str
    server: str
    protocol: str
    user: str
    transcript: list[ServerReply] = field(default_factory=list)
    count: int | None = None
    messages: list[bytes] = field(default_factory=list)
    error: str | None = None
    error_type: str | None = None

    @property
    def outcome(self) -> str:
        """ok: logged in and read the mailbox; auth_failed: the server refused the login;
        refused: the connection was refused (nothing listens); else what went wrong."""
        if self.error_type == "ConnectionRefusedError":
            return "refused"
        if self.error is not None:
            return "error"
        if any(r.stage == "login" and not r.ok for r in self.transcript):
            return "auth_failed"
        return "ok" if self.count is not None and all(r.ok for r in self.transcript) else "error"

    def replies(self, stage: str) -> list[ServerReply]:
        return [r for r in self.transcript if r.stage == stage]

    def describe(self) -> str:
        lines = [f"fetch '{self.name}' by {self.protocol.upper()} from {self.source} at {self.server} as {self.user}"]
        lines += [f"  {reply}" for reply in self.transcript]
        if self.count is not None:
            lines.append(f"  {self.count} message(s) in the mailbox, {len(self.messages)} retrieved")
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)


def fetch_mailbox(
    handle: NodeHandle,
    name: str,
    server_label: str,
    server_ip: str,
    protocol: str,
    port: int,
    user: str,
    password: str,
    delete: bool = False,
) -> Fetched:
    """One POP3 or IMAP session from a client or sink node."""
    client = capability(handle.node, SmtpClient)
    if client is None:
        raise StepError(f"{handle.name} is a {handle.node.kind} node: mailboxes are fetched from client or sink nodes")
    request = {
        "host": server_ip,
        "port": port,
        "protocol": protocol,
        "user": user,
        "password": password,
        "delete": delete,
        "timeout": FETCH_TIMEOUT,
    }
    path = f"/tmp/harness-fetch-{name}.json"
    result = call_agent(handle, "mail client", path, request, client.mail_fetch_command(path))
    return Fetched(
        name,
        handle.name,
        server_label,
        protocol,
        user,
        transcript=[ServerReply(r["stage"], r["ok"], r["text"]) for r in result["transcript"]],
        count=result["count"],
        messages=[base64.b64decode(m) for m in result["messages"]],
        error=result.get("error"),
        error_type=result.get("error_type"),
    )
