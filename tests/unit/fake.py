"""A topology without containers: nodes whose captures, logs, queues, mailboxes and command
results are scripted, so that every step's pass and fail paths run without Docker.

A scripted value may be a list of values for successive reads (the last one repeats), to
show what an expectation sees while it polls: ``node.script_captures([], [c1], [c1, c1])``.
"""

from __future__ import annotations

from typing import Any

from harness.core.container import ExecResult
from harness.kinds import AddressTester, CaptureSink, Mta, capability, kind_of
from harness.kinds.base import AddressTest
from harness.messages import compose
from harness.observe.logs import Delivery, LogLine, queue_ids_for
from harness.observe.queue import QueueEntry
from harness.scenario.loader import load_scenario_text
from harness.scenario.model import Scenario
from harness.topology.fetching import Fetched, ServerReply
from harness.topology.sending import Sent, SmtpReply

SCENARIO = """\
networks:
  lan: {subnet: 10.201.0.0/24}
  far: {subnet: 10.202.0.0/24}
nodes:
  ns: {kind: bind, hostname: ns.example.test, networks: {lan: 10.201.0.53, far: 10.202.0.53}}
  pf:
    kind: postfix
    hostname: pf.example.test
    networks: {lan: 10.201.0.10}
    users: [alice]
    mailbox_server: {protocols: [pop3, imap], passwords: {alice: secret}}
  sm: {kind: sendmail, hostname: sm.example.test, networks: {lan: 10.201.0.11}}
  cl: {kind: client, hostname: cl.example.test, networks: {lan: 10.201.0.5}}
  mx: {kind: sink, hostname: mx.remote.test, networks: {far: 10.202.0.30, lan: 10.201.0.30}}
  mx2: {kind: sink, hostname: mx2.remote.test, networks: {far: 10.202.0.31}}
dns:
  zones: {example.test: [], remote.test: ["@ MX 10 mx"]}
"""


class Script:
    """Successive values of one observation; the last one repeats."""

    def __init__(self, *values: Any) -> None:
        self.values = list(values)
        self.reads = 0

    def next(self) -> Any:
        value = self.values[min(self.reads, len(self.values) - 1)]
        self.reads += 1
        return value


class FakeNode:
    def __init__(self, topology: FakeTopology, name: str) -> None:
        self.topology = topology
        self.name = name
        self.node = topology.scenario.node(name)
        self.kind = kind_of(self.node)
        self._captures = Script([])
        self._log = Script("")
        self._queue = Script([])
        self._mailboxes: dict[str, Script] = {}
        self._commands: dict[str, Script] = {}
        self._address_outputs: dict[str, Script] = {}
        self.address_tests: list[tuple[str, str | None]] = []  # (address, rulesets) asked for
        self.done: list[str] = []  # the actions done to it, in order

    # ---- scripting ---------------------------------------------------------------------------
    def script_captures(self, *values: list[dict[str, Any]]) -> FakeNode:
        self._captures = Script(*values)
        return self

    def script_log(self, *texts: str) -> FakeNode:
        self._log = Script(*texts)
        return self

    def script_queue(self, *values: list[QueueEntry]) -> FakeNode:
        self._queue = Script(*values)
        return self

    def script_mailbox(self, user: str, *texts: str) -> FakeNode:
        self._mailboxes[user] = Script(*texts)
        return self

    def script_command(self, command: str, *results: tuple[int, str]) -> FakeNode:
        self._commands[command] = Script(*(ExecResult(code, output) for code, output in results))
        return self

    def script_address_test(self, address: str, *outputs: str) -> FakeNode:
        """What the MTA's address test prints for ``address``: ``sendmail -bt``'s trace, or
        for Postfix the lines ``sendmail -bv`` writes to the log. The node's own kind reads it."""
        self._address_outputs[address] = Script(*outputs)
        return self

    # ---- what steps see --------------------------------------------------------------------
    def run(self, command: str) -> ExecResult:
        script = self._commands.get(command)
        return script.next() if script else ExecResult(127, f"sh: 1: {command.split()[0]}: not found")

    def log_text(self) -> str:
        return str(self._log.next())

    def log_lines(self) -> list[LogLine]:
        return self.kind.parse_log(self.log_text())

    def deliveries(self, message_id: str | None = None) -> list[Delivery]:
        mta = capability(self.node, Mta)
        assert mta is not None, f"{self.name} is no MTA"
        lines = self.log_lines()
        found = mta.deliveries(lines)
        if message_id is None:
            return found
        qids = queue_ids_for(lines, message_id)
        return [d for d in found if d.qid in qids]

    def queue(self) -> list[QueueEntry]:
        return list(self._queue.next())

    def queue_text(self) -> str:
        return "\n".join(f"{e.qid} {e.sender} {e.reason}" for e in self._queue.values[-1])

    def queued(self, message_id: str) -> list[QueueEntry]:
        qids = queue_ids_for(self.log_lines(), message_id)
        return [e for e in self.queue() if e.qid in qids]

    def captures(self) -> list[dict[str, Any]]:
        assert capability(self.node, CaptureSink), f"{self.name} is no sink"
        return list(self._captures.next())

    def reset_captures(self) -> None:
        self.done.append("reset_captures")
        self._captures = Script([])

    def mailbox(self, user: str) -> str:
        script = self._mailboxes.get(user)
        return str(script.next()) if script else ""

    def address_test(self, address: str, rulesets: str | None = None) -> AddressTest:
        tester = capability(self.node, AddressTester)
        assert tester is not None, f"{self.name} has no address test"
        self.address_tests.append((address, rulesets))
        script = self._address_outputs.get(address)
        output = str(script.next()) if script else ""
        return tester.parse_address_test(address, rulesets, output)

    def flush(self) -> None:
        self.done.append("flush")

    def stop(self) -> None:
        self.done.append("stop")

    def start(self) -> None:
        self.done.append("start")

    def blackhole(self) -> None:
        self.done.append("blackhole")

    def unblackhole(self) -> None:
        self.done.append("unblackhole")

    def refuse(self) -> None:
        self.done.append("refuse")

    def restore(self) -> None:
        self.done.append("restore")

    def disconnect(self, network: str | None = None) -> None:
        self.done.append(f"disconnect {network}")

    def reconnect(self, network: str | None = None) -> None:
        self.done.append(f"reconnect {network}")


class FakeTopology:
    """Implements harness.steps.view.TopologyView over scripted nodes."""

    def __init__(self, text: str = SCENARIO) -> None:
        self.scenario: Scenario = load_scenario_text(text, "fake.yaml")
        self.nodes = {n.name: FakeNode(self, n.name) for n in self.scenario.nodes}
        self.sent: dict[str, Sent] = {}
        self.sends: list[dict[str, Any]] = []
        self.dns_answers: dict[tuple[str, str], dict[str, Any]] = {}
        self.smtp_replies: list[list[SmtpReply]] = []  # transcripts for the next SMTP sends
        self.fetched: dict[str, Fetched] = {}
        self.fetches: list[dict[str, Any]] = []
        self.fetch_results: list[Fetched] = []  # what the next fetches come to (default: an empty mailbox)

    def node(self, name: str) -> FakeNode:
        return self.nodes[name]

    def sinks(self) -> list[str]:
        return [n.name for n in self.scenario.nodes if capability(n, CaptureSink)]

    def address_of(self, node_name: str) -> set[str]:
        return {str(a.ip) for a in self.scenario.node(node_name).attachments}

    def node_at(self, address: str) -> str | None:
        return next((n.name for n in self.scenario.nodes if address in self.address_of(n.name)), None)

    def address_seen_from(self, node_name: str, seen_from: str, family: int = 4) -> str:
        shared = {a.network for a in self.scenario.node(seen_from).attachments}
        return next(
            str(a.ip if family == 4 else a.ip6)
            for a in self.scenario.node(node_name).attachments
            if a.network in shared
        )

    def dns_query(self, name: str, rtype: str) -> dict[str, Any]:
        return self.dns_answers.get((name, rtype), {"rcode": "NXDOMAIN", "answer": []})

    def send(self, name: str, source: str, to: list[str], **options: Any) -> Sent:
        self.sends.append({"name": name, "source": source, "to": to, **options})
        message = compose(name, "fake", options.get("mail_from") or f"tester@{source}", to)
        if options.get("server") is None and options.get("server_ip") is None:
            sent = Sent(name, message, source)
        else:
            transcript = self.smtp_replies.pop(0) if self.smtp_replies else accepted_transcript(to)
            sent = Sent(name, message, source, server=options.get("server"), transcript=transcript)
        self.sent[name] = sent
        return sent

    def send_batch(
        self,
        batch: str,
        source: str,
        server: str,
        messages: list[tuple[str, list[str], str | None, str | None]],
        port: int = 25,
    ) -> list[Sent]:
        return [
            self.send(name, source, to, mail_from=mail_from, server=server, port=port, subject=subject)
            for name, to, mail_from, subject in messages
        ]

    def fetch(
        self, name: str, source: str, server: str, protocol: str, user: str, password: str, **options: Any
    ) -> Fetched:
        self.fetches.append(
            {"name": name, "source": source, "server": server, "protocol": protocol, "user": user, "password": password}
            | options
        )
        result = self.fetch_results.pop(0) if self.fetch_results else self.mailbox(protocol=protocol, user=user)
        fetched = Fetched(
            name, source, server, protocol, user, result.transcript, result.count, result.messages, result.error,
            result.error_type,
        )  # fmt: skip
        self.fetched[name] = fetched
        return fetched

    # ---- helpers for tests ---------------------------------------------------------------------
    def delivered(self, name: str) -> bytes:
        """An earlier sent message as a mailbox server gives it back: with a Received header more."""
        return b"Received: from cl.example.test by pf.example.test\r\n" + self.sent[name].message.raw

    def mailbox(self, *messages: bytes, protocol: str = "pop3", user: str = "alice") -> Fetched:
        """A fetch that read a mailbox holding ``messages`` (Dovecot's replies)."""
        if protocol == "pop3":
            replies = [
                ServerReply("connect", True, "+OK Dovecot (Debian) ready."),
                ServerReply("user", True, "+OK"),
                ServerReply("login", True, "+OK Logged in."),
                ServerReply("count", True, f"+OK {len(messages)} messages:"),
                *(ServerReply("retrieve", True, "+OK 500 octets") for _ in messages),
                ServerReply("quit", True, "+OK Logging out."),
            ]
        else:
            replies = [
                ServerReply("connect", True, "* OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready."),
                ServerReply("login", True, "OK [CAPABILITY IMAP4rev1] Logged in"),
                ServerReply("count", True, "OK [READ-ONLY] Select completed."),
                *(ServerReply("retrieve", True, f"OK {i}") for i in range(1, len(messages) + 1)),
                ServerReply("quit", True, "BYE Logging out"),
            ]
        return Fetched("", "", "", protocol, user, replies, len(messages), list(messages))

    def refused_login(self) -> Fetched:
        replies = [
            ServerReply("connect", True, "+OK Dovecot (Debian) ready."),
            ServerReply("user", True, "+OK"),
            ServerReply("login", False, "-ERR [AUTH] Authentication failed."),
        ]
        return Fetched("", "", "", "pop3", "alice", replies)

    def refused_connection(self) -> Fetched:
        error = "ConnectionRefusedError: [Errno 111] Connection refused"
        return Fetched(
            "", "", "", "pop3", "alice", [ServerReply("connect", False, error)], error="connect: " + error,
            error_type="ConnectionRefusedError",
        )  # fmt: skip

    def message_id(self, name: str) -> str:
        return self.sent[name].message.message_id

    def capture(self, name: str, peer: str = "10.201.0.10", **fields: Any) -> dict[str, Any]:
        """A capture record of an earlier sent message, as the sink writes it."""
        sent = self.sent[name]
        record = {
            "message_id": sent.message.message_id,
            "peer": peer,
            "mail_from": sent.message.sender,
            "rcpt_to": list(sent.message.recipients),
            "auth_user": None,
            "auth_mechanism": None,
            "tls": False,
        }
        record.update(fields)
        return record


def accepted_transcript(to: list[str]) -> list[SmtpReply]:
    return [
        SmtpReply("connect", 220, "mx ESMTP"),
        SmtpReply("helo", 250, "mx"),
        SmtpReply("mail", 250, "2.1.0 Ok"),
        *(SmtpReply("rcpt", 250, "2.1.5 Ok", rcpt) for rcpt in to),
        SmtpReply("data", 250, "2.0.0 Ok: queued"),
    ]
