"""Actions: steps that change the topology (send, faults, queue runs, time)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.errors import ExpectationFailed
from harness.kinds import Mta, SmtpClient, capability, names_with
from harness.steps.base import DEFAULT_PORT, STEPS, Checks, StepSpec, key
from harness.steps.view import TopologyView

SMTP_ONLY_KEYS = ("server", "server_ip", "family", "port", "helo", "auth", "starttls", "tls", "client")
FAMILIES = ("ipv4", "ipv6")
SMTP_CLIENTS = ("builtin", "swaks")
TLS_MODES = ("none", "starttls", "implicit")
SMTPS_PORT = 465
# `auto`: the client's own choice among what the server offers (see harness/agent/smtp_send.py)
AUTH_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5", "auto")


@dataclass(frozen=True)
class SmtpAuth:
    user: str
    password: str
    mechanism: str = "PLAIN"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class Send(StepSpec):
    action = "send"
    meaning = (
        "Send a message. From a client or sink node it is an SMTP session to `server`; from an "
        "MTA node it is a local submission with the MTA's own sendmail command."
    )
    id: str = key("the message's name, used by later expectations", required=True)
    from_: str = key("the node the message starts at", "node", required=True, name="from")
    to: tuple[str, ...] = key("envelope recipients", "addresses", required=True)
    mail_from: str | None = key("envelope sender (default tester@<from node's hostname>)")
    server: str | None = key("SMTP sessions: the node to connect to", "node")
    server_ip: str | None = key("SMTP sessions: connect to this topology address instead (IPv4 or IPv6)", "ip")
    family: str | None = key(
        "SMTP sessions: connect to the server's `ipv4` address (default) or its `ipv6` one, on a dual-stack "
        "network both share",
        choices=FAMILIES,
    )
    port: int | None = key(
        f"SMTP sessions: the port (default {DEFAULT_PORT}; {SMTPS_PORT} with `tls: implicit`)", "int"
    )
    helo: str | None = key("SMTP sessions: the EHLO name (default the client's hostname)")
    starttls: bool | None = key("SMTP sessions: issue STARTTLS after EHLO (certificate not verified)", "bool")
    tls: str | None = key(
        "SMTP sessions: `implicit`: TLS from the first byte (SMTPS, port 465); `starttls` is `starttls: true`; "
        "`none` (default)",
        choices=TLS_MODES,
    )
    auth: SmtpAuth | None = key("SMTP sessions: {user, password, mechanism} to authenticate", "auth")
    client: str | None = key(
        "SMTP sessions: the client program: `builtin` (Python's smtplib, the default) or `swaks`",
        choices=SMTP_CLIENTS,
    )
    subject: str | None = key("Subject header")
    body: str | None = key("message body")
    headers: tuple[tuple[str, str], ...] = key("extra header fields", "mapping", default=())
    expect: str = key(
        "SMTP sessions: the outcome that is not a failure (default accepted)",
        choices=("accepted", "rejected", "any"),
        default="accepted",
    )

    def validate(self, checks: Checks) -> None:
        source = checks.nodes[self.from_]
        if capability(source, SmtpClient):
            if self.server is None and self.server_ip is None:
                checks.fail("", f"an SMTP send from '{source.name}' needs 'server:' (the node to connect to)")
        else:
            for name in SMTP_ONLY_KEYS:
                if getattr(self, name) is not None:
                    checks.fail(
                        name,
                        f"'{name}' applies to SMTP sessions from {names_with(SmtpClient)} nodes, "
                        f"not to a submission at {source.kind} node '{source.name}'",
                    )
            if not capability(source, Mta):
                checks.fail("from", f"mail cannot start at a {source.kind} node")
        if self.starttls and self.tls not in (None, "starttls"):
            checks.fail("tls", f"'tls: {self.tls}' contradicts 'starttls: true'", "keep one of the two")
        if self.family is not None and self.server_ip is not None:
            checks.fail("family", "'family:' picks one of the server's addresses: 'server_ip:' already gives one")
        if self.family == "ipv6" and self.server is not None and self.server in checks.nodes:
            dual = {a.network for a in checks.nodes[self.server].attachments if a.ip6 is not None}
            if not any(a.network in dual for a in source.attachments):
                checks.fail(
                    "family",
                    f"'{source.name}' and '{self.server}' share no dual-stack network: '{self.server}' has no IPv6 "
                    f"address that '{source.name}' can reach",
                    "give a network they share a 'subnet6:'",
                )
        if self.server_ip is not None:
            addresses = {
                str(ip) for n in checks.nodes.values() for a in n.attachments for ip in (a.ip, a.ip6) if ip is not None
            }
            if self.server_ip not in addresses:
                checks.fail(
                    "server_ip",
                    f"{self.server_ip} is no node's address in this topology",
                    "tests only talk to the topology's own nodes",
                )

    def run(self, topo: TopologyView) -> str:
        sent = topo.send(
            self.id,
            self.from_,
            list(self.to),
            mail_from=self.mail_from,
            server=self.server,
            server_ip=self.server_ip
            if self.family != "ipv6" or self.server is None
            else topo.address_seen_from(self.server, self.from_, family=6),
            port=self.port or (SMTPS_PORT if self.tls == "implicit" else DEFAULT_PORT),
            helo=self.helo,
            auth=None
            if self.auth is None
            else {"user": self.auth.user, "password": self.auth.password, "mechanism": self.auth.mechanism},
            starttls=bool(self.starttls),
            tls=self.tls,
            client=self.client,
            subject=self.subject,
            body=self.body,
            headers=dict(self.headers),
        )
        if self.expect == "accepted" and not sent.accepted:
            raise ExpectationFailed("the message was not accepted:\n" + sent.describe())
        if self.expect == "rejected" and sent.accepted:
            raise ExpectationFailed("the message was accepted, but a rejection was expected:\n" + sent.describe())
        return sent.describe()


@dataclass(frozen=True, kw_only=True)
class NodeAction(StepSpec):
    node: str = key("the node", "node", required=True)


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class Stop(NodeAction):
    action = "stop"
    meaning = (
        "Stop a node's container: its address vanishes. Peers forget its link-layer address, "
        'so a connect to it fails the same way every time: "No route to host" after about '
        "3 s, or the client's connect timeout if that is shorter."
    )

    def run(self, topo: TopologyView) -> str:
        topo.node(self.node).stop()
        return f"{self.node} stopped"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class Start(NodeAction):
    action = "start"
    meaning = "Start a stopped node's container again."

    def run(self, topo: TopologyView) -> str:
        topo.node(self.node).start()
        return f"{self.node} started and ready"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class Blackhole(NodeAction):
    action = "blackhole"
    meaning = (
        "Drop every packet the node would send to its peers, as a firewall that drops: its "
        "services still run, every connection to it times out."
    )

    def run(self, topo: TopologyView) -> str:
        topo.node(self.node).blackhole()
        return f"{self.node} answers nobody (connections to it time out)"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class Unblackhole(NodeAction):
    action = "unblackhole"
    meaning = "Undo `blackhole`: the node answers again."

    def run(self, topo: TopologyView) -> str:
        topo.node(self.node).unblackhole()
        return f"{self.node} answers again"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class Refuse(NodeAction):
    action = "refuse"
    meaning = "Stop the service inside a node (the container stays up): connections are refused."

    def run(self, topo: TopologyView) -> str:
        topo.node(self.node).refuse()
        return f"the service of {self.node} stopped"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class Restore(NodeAction):
    action = "restore"
    meaning = "Start the service stopped by `refuse` again."

    def run(self, topo: TopologyView) -> str:
        topo.node(self.node).restore()
        return f"the service of {self.node} started and ready"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class Disconnect(NodeAction):
    action = "disconnect"
    meaning = "Cut a node off one of its networks."
    network: str | None = key("the network (default its first)", "network")

    def run(self, topo: TopologyView) -> str:
        topo.node(self.node).disconnect(self.network)
        return f"{self.node} cut off {self.network or 'its first network'}"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class Reconnect(NodeAction):
    action = "reconnect"
    meaning = "Attach a node to a network again, with its address."
    network: str | None = key("the network (default its first)", "network")

    def run(self, topo: TopologyView) -> str:
        topo.node(self.node).reconnect(self.network)
        return f"{self.node} attached to {self.network or 'its first network'} again"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class Flush(StepSpec):
    action = "flush"
    meaning = "Ask an MTA to deliver its queue now."
    node: str = key("the MTA", "mta", required=True)

    def run(self, topo: TopologyView) -> str:
        topo.node(self.node).flush()
        return f"queue run of {self.node} started"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ResetCaptures(StepSpec):
    action = "reset_captures"
    meaning = "Forget what a sink (default: every sink) captured so far."
    at: str | None = key("the sink", "sink_node")

    def run(self, topo: TopologyView) -> str:
        names = [self.at] if self.at else topo.sinks()
        for name in names:
            topo.node(name).reset_captures()
        return "captures forgotten at " + ", ".join(names)


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class Sleep(StepSpec):
    action = "sleep"
    meaning = "Wait a fixed time (for timers under test; expectations wait by themselves)."
    seconds: float = key("how long", "seconds", required=True)

    def run(self, topo: TopologyView) -> str:
        time.sleep(self.seconds)
        return f"slept {self.seconds:g} s"
