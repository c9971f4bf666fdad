"""Steps of mailbox access: fetch a user's mailbox over POP3 or IMAP from a client node, and
judge what was fetched (the message, byte for byte; the count) and what the server replied."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass

from harness.errors import ExpectationFailed
from harness.kinds import SmtpClient, capability, names_with
from harness.scenario.model import MAILBOX_PROTOCOLS
from harness.steps.base import STEPS, Checks, StepSpec, key
from harness.steps.view import TopologyView
from harness.topology.fetching import OUTCOMES, STAGES, Fetched


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class Fetch(StepSpec):
    action = "fetch"
    meaning = (
        "Fetch a user's mailbox over POP3 or IMAP from a client or sink node, as a mail client "
        "does: log in, count, retrieve every message (and delete them, if asked), log out."
    )
    id: str = key("the fetch's name, used by later expectations", required=True)
    from_: str = key("the client or sink node the session starts at", "node", required=True, name="from")
    server: str = key("the node to connect to", "node", required=True)
    protocol: str = key("the protocol", required=True, choices=MAILBOX_PROTOCOLS)
    user: str = key("the user to log in as", required=True)
    password: str = key("the password to log in with", required=True)
    port: int | None = key("the port (default 110 for pop3, 143 for imap)", "int")
    delete: bool = key("delete the messages after retrieving them (default false)", "bool", default=False)
    expect: str = key(
        "the outcome that is not a failure: the mailbox was read, the login was refused, or the "
        "connection was (default ok)",
        choices=OUTCOMES,
        default="ok",
    )

    def validate(self, checks: Checks) -> None:
        source = checks.nodes[self.from_]
        if not capability(source, SmtpClient):
            checks.fail(
                "from",
                f"'{source.name}' is a {source.kind} node; mailboxes are fetched from {names_with(SmtpClient)} nodes",
            )
        if self.expect == "refused":
            return
        server = checks.nodes[self.server]
        service = server.mailbox_server
        if service is None:
            checks.fail(
                "server",
                f"'{server.name}' has no mailbox_server: nothing there serves {self.protocol}",
                "add 'mailbox_server:' to that node, or expect: refused",
            )
        if self.protocol not in service.protocols:
            checks.fail(
                "protocol",
                f"'{server.name}' serves {', '.join(service.protocols)}, not {self.protocol}",
                "add it to the node's mailbox_server.protocols, or expect: refused",
            )
        if self.expect == "ok" and self.user not in service.users:
            checks.fail("user", f"'{self.user}' has no password in the mailbox_server of '{server.name}'")

    def run(self, topo: TopologyView) -> str:
        fetched = topo.fetch(
            self.id,
            self.from_,
            self.server,
            self.protocol,
            self.user,
            self.password,
            port=self.port,
            delete=self.delete,
        )
        if fetched.outcome != self.expect:
            raise ExpectationFailed(
                f"expected {self.expect}, the fetch came to {fetched.outcome}:\n{fetched.describe()}"
            )
        return fetched.describe()


def body_of(raw: bytes) -> bytes:
    """What follows the header of a message (its first empty line)."""
    _, separator, body = raw.partition(b"\r\n\r\n")
    return body if separator else b""


def message_id_of(raw: bytes) -> str:
    return str(email.message_from_bytes(raw).get("Message-ID", "")).strip()


def first_difference(a: bytes, b: bytes) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def read_mailbox(topo: TopologyView, name: str) -> Fetched:
    fetched = topo.fetched[name]
    if fetched.outcome != "ok":
        raise ExpectationFailed(f"fetch '{name}' did not read the mailbox ({fetched.outcome}):\n{fetched.describe()}")
    return fetched


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectFetched(StepSpec):
    action = "expect_fetched"
    meaning = (
        "What an earlier `fetch` read: the message is among the messages (found by its "
        "Message-ID, its body byte for byte as sent), and/or how many the mailbox held."
    )
    expectation = True
    fetch: str = key("the fetch", "fetch", required=True)
    message: str | None = key("a message the fetch must have read, its body exactly as sent", "message")
    count: int | None = key("how many messages the mailbox held", "int")

    def validate(self, checks: Checks) -> None:
        if self.message is None and self.count is None:
            checks.fail("", "'expect_fetched' needs 'message:' or 'count:' (or both)")

    def run(self, topo: TopologyView) -> str:
        fetched = read_mailbox(topo, self.fetch)
        where = f"the mailbox of {fetched.user} at {fetched.server}"
        if self.count is not None and fetched.count != self.count:
            raise ExpectationFailed(f"{where} held {fetched.count} message(s), expected {self.count}")
        if self.message is None:
            return f"{where} held {fetched.count} message(s)"
        sent = topo.sent[self.message].message
        copies = [raw for raw in fetched.messages if message_id_of(raw) == sent.message_id]
        if not copies:
            ids = ", ".join(message_id_of(raw) or "(none)" for raw in fetched.messages) or "no messages"
            raise ExpectationFailed(
                f"'{self.message}' {sent.message_id} is not among what fetch '{self.fetch}' read from {where}: {ids}"
            )
        expected = body_of(sent.raw)
        for raw in copies:
            got = body_of(raw)
            if got != expected:
                at = first_difference(expected, got)
                raise ExpectationFailed(
                    f"the body of '{self.message}' fetched from {where} differs from what was sent "
                    f"({len(got)} bytes, sent {len(expected)}); from byte {at}: "
                    f"fetched {got[at : at + 40]!r}, sent {expected[at : at + 40]!r}"
                )
        return (
            f"'{self.message}' read from {where} by {fetched.protocol.upper()}, its body ({len(expected)} bytes) as sent; "
            f"{fetched.count} message(s) there"
        )


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectFetchReply(StepSpec):
    action = "expect_fetch_reply"
    meaning = "A reply the server gave in an earlier `fetch` session (its own words)."
    expectation = True
    fetch: str = key("the fetch", "fetch", required=True)
    stage: str = key("the stage whose reply is checked", required=True, choices=STAGES)
    ok: bool | None = key("whether the reply was a success (+OK, OK)", "bool")
    text: str | None = key("a pattern the reply text must match", "regex")

    def run(self, topo: TopologyView) -> str:
        fetched = topo.fetched[self.fetch]
        replies = fetched.replies(self.stage)
        if not replies:
            raise ExpectationFailed(f"the session never reached {self.stage}:\n{fetched.describe()}")
        for reply in replies:
            if self.ok is not None and reply.ok != self.ok:
                raise ExpectationFailed(
                    f"expected {'success' if self.ok else 'a refusal'} at {self.stage}, got: {reply}"
                )
            if self.text is not None and not re.search(self.text, reply.text):
                raise ExpectationFailed(f"the {self.stage} reply does not match /{self.text}/: {reply}")
        return "; ".join(str(reply) for reply in replies)
