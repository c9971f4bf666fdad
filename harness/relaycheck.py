"""The open-relay battery: the address forms relay testers use, sent from a client inside
the topology to one server, each in its own SMTP session.

For every form it records whether RCPT was accepted, whether the message was accepted
after DATA and, for an accepted one, its whole fate, followed through every node of the
topology: it reached a sink, it was delivered to a local mailbox, it sits in a queue, or it
bounced without being delivered anywhere. A form refused at RCPT or DATA, or accepted and
then bounced, is closed; a form accepted and then delivered or queued anywhere, or whose
fate could not be seen, is open: a verdict of closed is never given without having seen
what became of every accepted message. The forms are the sixteen MAIL FROM / RCPT TO pairs
of nmap's smtp-open-relay script: the null sender, percent hack, quoted local parts, source
routes, bang paths and bracketed-IP variants.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.core.waits import Poll, poll_until
from harness.kinds import Mta, capability
from harness.observe.logs import queue_ids_for

if TYPE_CHECKING:
    from harness.steps.view import TopologyView

FROM_USER = "antispam"
TO_USER = "relaytest"


@dataclass(frozen=True)
class RelayForm:
    number: int
    mail_from: str
    rcpt_to: str


def relay_forms(
    domain: str, server_name: str, server_ip: str, from_user: str = FROM_USER, to_user: str = TO_USER
) -> list[RelayForm]:
    """The sixteen forms, for a remote ``domain`` and a server known as ``server_name``/``server_ip``."""
    ip = f"[{server_ip}]"
    sender_ip = f"{from_user}@{ip}"
    pairs = [
        ("", f"{to_user}@{domain}"),
        (f"{from_user}@{domain}", f"{to_user}@{domain}"),
        (f"{from_user}@{server_name}", f"{to_user}@{domain}"),
        (sender_ip, f"{to_user}@{domain}"),
        (sender_ip, f"{to_user}%{domain}@{ip}"),
        (sender_ip, f"{to_user}%{domain}@{server_name}"),
        (sender_ip, f'"{to_user}@{domain}"'),
        (sender_ip, f'"{to_user}%{domain}"'),
        (sender_ip, f"{to_user}@{domain}@{ip}"),
        (sender_ip, f'"{to_user}@{domain}"@{ip}'),
        (sender_ip, f"{to_user}@{domain}@{server_name}"),
        (sender_ip, f"@{ip}:{to_user}@{domain}"),
        (sender_ip, f"@{server_name}:{to_user}@{domain}"),
        (sender_ip, f"{domain}!{to_user}"),
        (sender_ip, f"{domain}!{to_user}@{ip}"),
        (sender_ip, f"{domain}!{to_user}@{server_name}"),
    ]
    return [RelayForm(i + 1, mail_from, rcpt_to) for i, (mail_from, rcpt_to) in enumerate(pairs)]


# The fates of an accepted message.
RELAYED, MAILBOX, QUEUED, BOUNCED, UNSEEN = "relayed", "mailbox", "queued", "bounced", "unseen"
OPEN_FATES = (RELAYED, MAILBOX, QUEUED, UNSEEN)


@dataclass
class FormResult:
    form: RelayForm
    rcpt_code: int | None
    data_code: int | None
    delivered_at: list[str] = field(default_factory=list)  # sinks that captured it
    reply: str = ""
    fate: str = ""  # for a message accepted at DATA: one of the fates above
    where: str = ""  # the node(s) of the fate and what their log said

    @property
    def rcpt_accepted(self) -> bool:
        return self.rcpt_code is not None and 200 <= self.rcpt_code < 300

    @property
    def data_accepted(self) -> bool:
        return self.data_code is not None and 200 <= self.data_code < 300

    @property
    def open(self) -> bool:
        return self.data_accepted and self.fate in OPEN_FATES

    def verdict(self) -> str:
        if not self.data_accepted:
            return "refused"
        return {
            RELAYED: "RELAYED to " + ", ".join(self.delivered_at),
            MAILBOX: f"DELIVERED to a mailbox at {self.where}",
            QUEUED: f"accepted and QUEUED at {self.where}",
            BOUNCED: f"accepted, then bounced at {self.where}",
            UNSEEN: "accepted; its fate was not seen within the time given (counted as open)",
        }.get(self.fate, self.fate)

    def line(self) -> str:
        return (
            f"{self.form.number:>2}. MAIL FROM:<{self.form.mail_from}> RCPT TO:<{self.form.rcpt_to}>  "
            f"rcpt {self.rcpt_code or '-'}  data {self.data_code or '-'}  {self.verdict()}  ({self.reply})"
        )


@dataclass
class RelayReport:
    server: str
    results: list[FormResult]

    @property
    def relayed(self) -> list[FormResult]:
        return [r for r in self.results if r.open]

    @property
    def open(self) -> bool:
        return bool(self.relayed)

    def summary(self) -> str:
        accepted = [r for r in self.results if r.data_accepted]
        if self.open:
            return (
                f"{self.server} is an OPEN RELAY: {len(self.relayed)}/{len(self.results)} forms were accepted "
                "and delivered, queued or lost from sight"
            )
        bounced = f", all {len(accepted)} bounced without delivery" if accepted else ""
        return (
            f"All tests performed, no relays accepted ({self.server}; {len(accepted)} form(s) accepted at DATA"
            f"{bounced})"
        )

    def text(self) -> str:
        return "\n".join([self.summary(), *(r.line() for r in self.results)])


def check_relay(
    topology: TopologyView,
    client: str,
    server: str,
    domain: str,
    within: float = 10.0,
    port: int = 25,
    server_name: str | None = None,
) -> RelayReport:
    """Run the battery from ``client`` against ``server`` for the remote ``domain``.

    Every accepted message is followed for up to ``within`` seconds through the topology
    (sinks, MTA logs, queues) until its fate is known. ``server_name`` replaces the server's
    hostname in the forms' routing parts (e.g. a domain the server accepts mail for, to
    probe what it forwards).
    """
    target = topology.scenario.node(server)
    server_ip = topology.address_seen_from(server, seen_from=client)
    run = f"relay-{int(time.time() * 1000) % 100000}"
    results: list[FormResult] = []
    accepted: dict[str, FormResult] = {}
    forms = relay_forms(domain, server_name or target.hostname, server_ip)
    # One session per form, all in one run of the client's agent.
    sents = topology.send_batch(
        run,
        client,
        server,
        [(f"{run}-{f.number:02d}", [f.rcpt_to], f.mail_from, f"open relay test {f.number}") for f in forms],
        port=port,
    )
    for form, sent in zip(forms, sents, strict=True):
        rcpt = next((r for r in sent.transcript if r.stage == "rcpt"), None)
        data = next((r for r in sent.transcript if r.stage == "data"), None)
        last = sent.transcript[-1] if sent.transcript else None
        result = FormResult(
            form,
            rcpt.code if rcpt else None,
            data.code if data else None,
            reply=str(last) if last else (sent.error or ""),
        )
        results.append(result)
        if result.data_accepted:
            accepted[sent.message.message_id] = result
    if accepted:
        follow(topology, accepted, within)
    return RelayReport(server, results)


def follow(topology: TopologyView, accepted: dict[str, FormResult], within: float) -> None:
    """Find each accepted message's fate: captured, delivered to a mailbox, bounced; what is
    still unresolved when the time is up is looked for in every MTA's queue."""
    sinks = topology.sinks()
    mtas = [n.name for n in topology.scenario.nodes if capability(n, Mta)]

    def observe() -> Poll[int]:
        for sink in sinks:
            for capture in topology.node(sink).captures():
                result = accepted.get(capture.get("message_id", ""))
                if result is not None and sink not in result.delivered_at:
                    result.delivered_at.append(sink)
                    result.fate, result.where = RELAYED, sink
        for name in mtas:
            node = topology.node(name)
            lines, deliveries = node.log_lines(), node.deliveries()
            for message_id, result in accepted.items():
                if result.fate == RELAYED:
                    continue
                qids = queue_ids_for(lines, message_id)
                for delivery in (d for d in deliveries if d.qid in qids):
                    if delivery.status == "sent" and (
                        delivery.relay in ("", "none") or delivery.relay.startswith("local")
                    ):
                        result.fate, result.where = MAILBOX, f"{name} ({delivery.raw.strip()[-120:]})"
                    elif delivery.status in ("bounced", "expired") and result.fate != MAILBOX:
                        result.fate, result.where = BOUNCED, f"{name}: {delivery.reason[:100]}"
        resolved = sum(bool(r.fate) for r in accepted.values())
        return Poll(resolved == len(accepted), resolved)

    poll_until(observe, within, interval=0.25, max_interval=1.0)
    for message_id, result in accepted.items():
        if result.fate:
            continue
        for name in mtas:
            if topology.node(name).queued(message_id):
                result.fate, result.where = QUEUED, name
                break
        else:
            result.fate = UNSEEN
