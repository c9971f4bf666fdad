"""Sending test mail into a running topology: an SMTP session from a client or sink node
(the agent's client, with its transcript), or a local submission at an MTA node (the MTA's
own sendmail command)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import StepError
from harness.kinds import Mta, SmtpClient, capability
from harness.messages import Message
from harness.topology.agents import call_agent

if TYPE_CHECKING:
    from harness.topology.node import NodeHandle

SMTP_TIMEOUT = 30


@dataclass
class SmtpReply:
    stage: str
    code: int
    text: str
    argument: str = ""

    def __str__(self) -> str:
        arg = f" [{self.argument}]" if self.argument else ""
        lines = self.text.splitlines() or [""]
        more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
        return f"{self.stage}{arg}: {self.code} {lines[0]}{more}"


@dataclass
class Sent:
    """A message the harness sent, and how it went."""

    name: str
    message: Message
    source: str
    server: str | None = None
    transcript: list[SmtpReply] = field(default_factory=list)
    error: str | None = None
    submit_output: str = ""

    @property
    def accepted(self) -> bool:
        if self.server is None:
            return self.error is None
        return any(r.stage == "data" and 200 <= r.code < 300 for r in self.transcript)

    def describe(self) -> str:
        lines = [
            f"message '{self.name}' {self.message.message_id} from {self.source}"
            + (f" to server {self.server}" if self.server else " (local submission)")
        ]
        lines += [f"  {reply}" for reply in self.transcript]
        if self.error:
            lines.append(f"  error: {self.error}")
        if self.submit_output.strip():
            lines.append(f"  submission said: {self.submit_output.strip()}")
        return "\n".join(lines)


def smtp_request(
    handle: NodeHandle,
    message: Message,
    server_ip: str,
    port: int = 25,
    helo: str | None = None,
    auth: dict[str, str] | None = None,
    starttls: bool = False,
    tls: str | None = None,
    client: str | None = None,
) -> dict[str, Any]:
    """What the agent's SMTP client is asked to do for one session."""
    return {
        "host": server_ip,
        "port": port,
        "helo": helo or handle.node.hostname,
        "mail_from": message.sender,
        "rcpt_to": list(message.recipients),
        "message": message.base64(),
        "auth": auth,
        "starttls": starttls,
        "tls": tls or ("starttls" if starttls else "none"),
        "client": client or "builtin",
        "timeout": SMTP_TIMEOUT,
    }


def _agent(handle: NodeHandle) -> SmtpClient:
    agent = capability(handle.node, SmtpClient)
    if agent is None:
        raise StepError(f"{handle.name} is a {handle.node.kind} node: SMTP sessions start at client or sink nodes")
    return agent


def _sent(name: str, message: Message, handle: NodeHandle, server_label: str, result: dict[str, Any]) -> Sent:
    return Sent(
        name,
        message,
        handle.name,
        server=server_label,
        transcript=[SmtpReply(r["stage"], r["code"], r["text"], r.get("argument", "")) for r in result["transcript"]],
        error=result.get("error"),
    )


def smtp_session(
    handle: NodeHandle,
    name: str,
    message: Message,
    server_label: str,
    server_ip: str,
    port: int = 25,
    helo: str | None = None,
    auth: dict[str, str] | None = None,
    starttls: bool = False,
    tls: str | None = None,
    client: str | None = None,
) -> Sent:
    """One SMTP session from a client or sink node, with its transcript."""
    agent = _agent(handle)
    request = smtp_request(handle, message, server_ip, port, helo, auth, starttls, tls, client)
    path = f"/tmp/harness-{name}.json"
    result = call_agent(handle, "SMTP client", path, request, agent.smtp_send_command(path))
    return _sent(name, message, handle, server_label, result)


def smtp_sessions(
    handle: NodeHandle, batch: str, messages: list[tuple[str, Message]], server_label: str, server_ip: str, port: int
) -> list[Sent]:
    """SMTP sessions from one node to one server, one per message, one after the other in
    one run of the agent (a battery of sixteen costs one exec, not sixteen)."""
    agent = _agent(handle)
    request = {"batch": [smtp_request(handle, message, server_ip, port) for _, message in messages]}
    path = f"/tmp/harness-{batch}.json"
    results = call_agent(handle, "SMTP client", path, request, agent.smtp_send_command(path))["results"]
    return [
        _sent(name, message, handle, server_label, result)
        for (name, message), result in zip(messages, results, strict=True)
    ]


def submit(handle: NodeHandle, name: str, message: Message) -> Sent:
    """A local submission with the MTA's own sendmail command."""
    mta = capability(handle.node, Mta)
    if mta is None:
        raise StepError(f"mail cannot start at {handle.name}, a {handle.node.kind} node")
    path = f"/tmp/harness-{name}.eml"
    handle.container.put_files([(path, message.raw, 0o644)])
    result = handle.container.exec(mta.submit_command(message.sender, list(message.recipients), path))
    return Sent(
        name, message, handle.name, error=None if result.ok else f"exit {result.code}", submit_output=result.output
    )
