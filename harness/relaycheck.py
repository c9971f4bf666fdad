"""The open-relay battery: the address forms relay testers use, sent from a client inside
the topology to one server, each in its own SMTP session.

For every form it records whether RCPT was accepted, whether the message was accepted
after DATA and — the only verdict that counts — whether it reached any sink. The forms are
the sixteen MAIL FROM / RCPT TO pairs of nmap's smtp-open-relay script: the null sender,
percent hack, quoted local parts, source routes, bang paths and bracketed-IP variants.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from harness.core.waits import Poll, poll_until
from harness.topology import Topology

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


@dataclass
class FormResult:
    form: RelayForm
    rcpt_code: int | None
    data_code: int | None
    delivered_at: list[str] = field(default_factory=list)
    reply: str = ""

    @property
    def rcpt_accepted(self) -> bool:
        return self.rcpt_code is not None and 200 <= self.rcpt_code < 300

    @property
    def data_accepted(self) -> bool:
        return self.data_code is not None and 200 <= self.data_code < 300

    def line(self) -> str:
        verdict = "RELAYED to " + ", ".join(self.delivered_at) if self.delivered_at else "not relayed"
        return (
            f"{self.form.number:>2}. MAIL FROM:<{self.form.mail_from}> RCPT TO:<{self.form.rcpt_to}>  "
            f"rcpt {self.rcpt_code or '-'}  data {self.data_code or '-'}  {verdict}  ({self.reply})"
        )


@dataclass
class RelayReport:
    server: str
    results: list[FormResult]

    @property
    def relayed(self) -> list[FormResult]:
        return [r for r in self.results if r.delivered_at]

    @property
    def open(self) -> bool:
        return bool(self.relayed)

    def summary(self) -> str:
        if self.open:
            return f"{self.server} is an OPEN RELAY: {len(self.relayed)}/{len(self.results)} forms reached a sink"
        accepted = sum(r.data_accepted for r in self.results)
        return f"All tests performed, no relays accepted ({self.server}; {accepted} form(s) accepted at DATA, none reached a sink)"

    def text(self) -> str:
        return "\n".join([self.summary(), *(r.line() for r in self.results)])


def check_relay(
    topology: Topology,
    client: str,
    server: str,
    domain: str,
    within: float = 10.0,
    port: int = 25,
    server_name: str | None = None,
) -> RelayReport:
    """Run the battery from ``client`` against ``server`` for the remote ``domain``.

    Accepted messages are watched for ``within`` seconds at every sink of the topology.
    ``server_name`` replaces the server's hostname in the forms' routing parts (e.g. a
    domain the server accepts mail for, to probe what it forwards).
    """
    target = topology.scenario.node(server)
    server_ip = topology.address_seen_from(server, seen_from=topology.scenario.node(client))
    run = f"relay-{int(time.time() * 1000) % 100000}"
    results: list[FormResult] = []
    message_ids: dict[str, FormResult] = {}
    for form in relay_forms(domain, server_name or target.hostname, server_ip):
        sent = topology.send(
            f"{run}-{form.number:02d}",
            client,
            [form.rcpt_to],
            mail_from=form.mail_from,
            server=server,
            port=port,
            subject=f"open relay test {form.number}",
        )
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
            message_ids[sent.message.message_id] = result
    sinks = [n.name for n in topology.scenario.nodes if n.kind == "sink"]
    if message_ids and sinks:

        def check() -> Poll[int]:
            for sink in sinks:
                for capture in topology.node(sink).captures():
                    result = message_ids.get(capture.get("message_id", ""))
                    if result is not None and sink not in result.delivered_at:
                        result.delivered_at.append(sink)
            delivered = sum(bool(r.delivered_at) for r in message_ids.values())
            return Poll(delivered == len(message_ids), delivered)

        poll_until(check, within, interval=0.25, max_interval=1.0)
    return RelayReport(server, results)
