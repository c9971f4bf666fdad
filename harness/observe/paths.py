"""The observed path of every message of a run: the nodes it passed through and what each
hop came to, built from what the run recorded (never from what the scenario expected).

- the sending: an SMTP session's transcript (accepted with the server's queue id, or the
  refusing reply), or a local submission at an MTA;
- every MTA's mail log, per queue id that carried the message (its Message-ID): each
  delivery attempt with ``relay=host[ip]`` goes to the node that has that address (a
  loopback address is the node itself); its status says accepted (with the queue id the next
  node gave: Postfix's ``queued as X``, sendmail's ``Sent (X Message accepted for
  delivery)``), deferred or bounced with the reason, delivered to a local mailbox, or
  forwarded (an alias) as a new queue id;
- every capture sink's records: captured, from the peer's address;
- every mailbox fetch (POP3/IMAP) whose retrieved messages carry the Message-ID.

Hops are ordered by their log time, then by how far their node is from where the message
started. The result is plain data (:meth:`MessagePath.to_json`), written with a run's result
and drawn by :mod:`harness.diagrams`.
"""

from __future__ import annotations

import calendar
import email.parser
import email.policy
import ipaddress
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.observe.logs import BOUNCED, DEFERRED, EXPIRED, SENT, Delivery, LogLine, queue_ids_for

if TYPE_CHECKING:
    from harness.scenario.model import Scenario
    from harness.topology import Topology

# What a hop came to.
SUBMITTED = "submitted"  # a local submission at an MTA (its own sendmail command)
ACCEPTED = "accepted"  # the next node took it (SMTP 250 to DATA), with its queue id there
REJECTED = "rejected"  # refused in the SMTP session (the reply is the detail)
FAILED = "failed"  # the session did not get that far (connection refused, timeout, ...)
CAPTURED = "captured"  # a capture sink recorded it
DELIVERED = "delivered"  # into a local mailbox
FORWARDED = "forwarded"  # an alias: re-queued at the same node as a new queue id
FETCHED = "fetched"  # read from a mailbox by POP3 or IMAP
OUTCOMES = (SUBMITTED, ACCEPTED, REJECTED, FAILED, CAPTURED, DELIVERED, FORWARDED, FETCHED, DEFERRED, BOUNCED, EXPIRED)

_SYSLOG_TIME = re.compile(r"^(?P<month>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)\b")
_ISO_TIME = re.compile(r"^\d{4}-(?P<month>\d\d)-(?P<day>\d\d)T(?P<hms>\d\d:\d\d:\d\d)")
_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}
# "[10.0.0.1]", "[fd42::1]" (Postfix) and "[IPv6:fd42:0:0:0:0:0:0:1]" (sendmail).
_IP = re.compile(r"\[(?:IPv6:)?(?P<ip>\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:]*)\]")
_CONNECT_TO = re.compile(r"\bconnect to [^\[\s]*\[(?P<ip>[^\]]+)\]")
# The next node's queue id in its 250 to DATA: Postfix "queued as X", sendmail "X Message accepted".
_NEXT_QID = re.compile(r"\bqueued as (?P<a>[0-9A-Za-z]{6,20})\b|(?:^|[ (])(?P<b>[0-9A-Za-z]{8,20}) Message accepted\b")
_FORWARDED = re.compile(r"\bforwarded as (?P<qid>[0-9A-Za-z]{6,20})\b")
_MAILER = re.compile(r"\bmailer=(?P<mailer>[\w-]+)")
LOCAL_MAILERS = ("local", "prog", "procmail", "cyrus", "lmtp")


@dataclass(frozen=True)
class Hop:
    """One step of a message: from a node to a node (the same one for a submission, a local
    delivery or a bounce without a peer), what it came to, the queue id it got or had, what
    the log or the server said, and when (the log's time of day; "" when nothing logged it)."""

    source: str
    target: str
    outcome: str
    qid: str = ""
    detail: str = ""
    time: str = ""
    recipients: tuple[str, ...] = ()

    def label(self) -> str:
        """The short text drawn on the hop's arrow."""
        text = self.outcome
        if self.outcome in (ACCEPTED, FORWARDED, SUBMITTED) and self.qid:
            text += f" as {self.qid}"
        elif self.outcome == DELIVERED and self.recipients:
            text += " to mailbox " + ", ".join(r.split("@")[0] for r in self.recipients)
        elif self.outcome == FETCHED and self.detail:
            text += " by " + self.detail.split(" ", 1)[0]
        elif self.qid:
            text += f" ({self.qid})"
        return text

    def signature(self) -> tuple[str, str, str, str]:
        """What stays the same between runs: the nodes, the outcome, and the mailboxes of a
        delivery or the stage and code of a refusal ("rcpt: 454")."""
        more = ""
        if self.outcome == DELIVERED:
            more = ",".join(r.split("@")[0] for r in self.recipients)
        elif self.outcome == REJECTED:
            more = " ".join(self.detail.split()[:2])
        return (self.source, self.target, self.outcome, more)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "outcome": self.outcome,
            "qid": self.qid,
            "detail": self.detail,
            "time": self.time,
            "recipients": list(self.recipients),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Hop:
        return cls(
            str(data["from"]),
            str(data["to"]),
            str(data["outcome"]),
            str(data.get("qid", "")),
            str(data.get("detail", "")),
            str(data.get("time", "")),
            tuple(str(r) for r in data.get("recipients", ())),
        )


@dataclass(frozen=True)
class MessagePath:
    """Every hop of one message the run sent, in order."""

    name: str
    message_id: str
    origin: str
    hops: tuple[Hop, ...] = ()

    @property
    def nodes(self) -> list[str]:
        """The nodes in the order the message met them."""
        seen = [self.origin]
        for hop in self.hops:
            seen += [hop.source, hop.target]
        return list(dict.fromkeys(seen))

    def signature(self) -> tuple[tuple[str, str, str, str], ...]:
        return tuple(h.signature() for h in self.hops)

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.name,
            "message_id": self.message_id,
            "origin": self.origin,
            "hops": [h.to_json() for h in self.hops],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MessagePath:
        return cls(
            str(data["message"]),
            str(data["message_id"]),
            str(data["origin"]),
            tuple(Hop.from_json(h) for h in data.get("hops", ())),
        )


def alike(paths: Iterable[MessagePath]) -> list[list[MessagePath]]:
    """Consecutive messages that took the same path (a relay-check battery's refusals), together."""
    runs: list[list[MessagePath]] = []
    for path in paths:
        if runs and runs[-1][0].signature() == path.signature() and runs[-1][0].origin == path.origin:
            runs[-1].append(path)
        else:
            runs.append([path])
    return runs


def names_of(paths: list[MessagePath]) -> str:
    """``m1`` or ``m1 … m9 (9 messages, the same path)``."""
    if len(paths) == 1:
        return paths[0].name
    between = ", " if len(paths) == 2 else " … "
    return f"{paths[0].name}{between}{paths[-1].name} ({len(paths)} messages, the same path)"


# ---- what the run recorded --------------------------------------------------------------
@dataclass(frozen=True)
class Sending:
    """A message as the harness sent it: from ``source``, by an SMTP session with ``server``
    (a node) or, with no server, a local submission; the session's last reply (the refusing
    one when it was refused) and its error."""

    name: str
    message_id: str
    source: str
    server: str | None
    accepted: bool
    reply: str = ""
    error: str = ""


@dataclass(frozen=True)
class Fetching:
    """A mailbox fetch: by ``source`` from ``server``, and the Message-IDs it retrieved."""

    name: str
    source: str
    server: str
    protocol: str
    user: str
    message_ids: tuple[str, ...]


@dataclass(frozen=True)
class NodeRecord:
    """What one node recorded: its parsed mail log and delivery attempts (MTAs), its
    captures (sinks)."""

    name: str
    lines: tuple[LogLine, ...] = ()
    deliveries: tuple[Delivery, ...] = ()
    captures: tuple[Mapping[str, Any], ...] = ()


# Fetches are not logged with a time the harness reads: they come after every logged hop.
_AFTER_ALL = (99, 99, 99, 99, 99)


@dataclass
class _Ordered:
    hop: Hop
    when: tuple[int, ...] | None
    seq: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def log_time(raw: str) -> tuple[str, tuple[int, ...] | None]:
    """A log line's time of day as written, and a key that sorts it (None: no stamp)."""
    match = _SYSLOG_TIME.match(raw)
    if match:
        month = _MONTHS.get(match.group("month"), 0)
    else:
        match = _ISO_TIME.match(raw)
        if not match:
            return "", None
        month = int(match.group("month"))
    hms = match.group("hms")
    h, m, s = (int(x) for x in hms.split(":"))
    return hms, (month, int(match.group("day")), h, m, s)


def _capture_time(record: Mapping[str, Any]) -> tuple[str, tuple[int, ...] | None]:
    stamp = record.get("time")
    if not isinstance(stamp, (int, float)):
        return "", None
    t = time.gmtime(stamp)
    return time.strftime("%H:%M:%S", t), (t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def _canonical(ip: str) -> str:
    """An address as the scenario model writes it (IPv6 compressed), whatever the log's spelling."""
    try:
        return str(ipaddress.ip_address(ip.removeprefix("IPv6:")))
    except ValueError:
        return ip


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


class _Builder:
    def __init__(self, addresses: Mapping[str, str], records: Mapping[str, NodeRecord]) -> None:
        self.addresses = addresses
        self.records = records

    def node_at(self, ip: str, here: str) -> str | None:
        return here if _is_loopback(ip) else self.addresses.get(_canonical(ip))

    def relay_target(self, delivery: Delivery, here: str) -> str | None:
        """The node a delivery attempt went to: by the relay's address, else the address of
        a failed connect in the reason."""
        for text, pattern in ((delivery.relay, _IP), (delivery.reason, _CONNECT_TO)):
            match = pattern.search(text)
            if match:
                node = self.node_at(match.group("ip"), here)
                if node is not None:
                    return node
        return None

    def path(self, sending: Sending, fetches: Iterable[Fetching]) -> MessagePath:
        msgid = sending.message_id
        hops: list[_Ordered] = []
        qids = {name: queue_ids_for(record.lines, msgid) for name, record in self.records.items()}
        # The sending.
        if sending.server is None:
            qid = min(qids.get(sending.source, set()) or {""}, key=lambda q: self._first_line(sending.source, q))
            outcome = SUBMITTED if not sending.error else FAILED
            hops.append(_Ordered(Hop(sending.source, sending.source, outcome, qid, sending.error), None))
        else:
            if sending.accepted:
                match = _NEXT_QID.search(sending.reply)
                qid = (match.group("a") or match.group("b")) if match else ""
                hop = Hop(sending.source, sending.server, ACCEPTED, qid, sending.reply)
            elif sending.error and not sending.reply:
                hop = Hop(sending.source, sending.server, FAILED, "", sending.error)
            else:
                hop = Hop(sending.source, sending.server, REJECTED, "", sending.reply or sending.error)
            hops.append(_Ordered(hop, None))
        # Every MTA's delivery attempts of the queue ids that carried it.
        for name, record in self.records.items():
            for delivery in record.deliveries:
                if delivery.qid in qids[name]:
                    hops.append(self.delivery_hop(name, delivery))
        # Every capture.
        for name, record in self.records.items():
            for capture in record.captures:
                if capture.get("message_id") == msgid:
                    self.add_capture(hops, name, capture)
        # Every fetch that retrieved it.
        for fetch in fetches:
            if msgid in fetch.message_ids:
                detail = f"{fetch.protocol.upper()} as {fetch.user} ({fetch.name})"
                hops.append(_Ordered(Hop(fetch.server, fetch.source, FETCHED, "", detail), _AFTER_ALL))
        return MessagePath(sending.name, msgid, sending.source, tuple(o.hop for o in self.order(sending.source, hops)))

    def _first_line(self, node: str, qid: str) -> int:
        lines = self.records[node].lines if node in self.records else ()
        return next((i for i, line in enumerate(lines) if line.qid == qid), len(lines))

    def delivery_hop(self, here: str, delivery: Delivery) -> _Ordered:
        stamp, when = log_time(delivery.raw)
        target = self.relay_target(delivery, here)
        mailer = _MAILER.search(delivery.raw)
        fields = [
            f"relay={delivery.relay}" if delivery.relay else "",
            f"mailer={mailer.group('mailer')}" if mailer else "",
            f"dsn={delivery.dsn}" if delivery.dsn else "",
        ]
        # What went wrong first: a picture has room for the start of a detail only.
        parts = [*fields, delivery.reason] if delivery.status == SENT else [delivery.reason, *fields]
        detail = ", ".join(part for part in parts if part)
        local = delivery.relay == "local" or (mailer is not None and mailer.group("mailer") in LOCAL_MAILERS)
        if delivery.status == SENT:
            forwarded = _FORWARDED.search(delivery.reason)
            next_qid = _NEXT_QID.search(delivery.reason)
            if forwarded:
                hop = Hop(here, here, FORWARDED, forwarded.group("qid"), detail, stamp, delivery.recipients)
            elif target is not None and not local:
                qid = (next_qid.group("a") or next_qid.group("b")) if next_qid else ""
                hop = Hop(here, target, ACCEPTED, qid, detail, stamp, delivery.recipients)
            else:
                hop = Hop(here, here, DELIVERED, delivery.qid, detail, stamp, delivery.recipients)
        else:
            hop = Hop(here, target or here, delivery.status, delivery.qid, detail, stamp, delivery.recipients)
        return _Ordered(hop, when)

    def add_capture(self, hops: list[_Ordered], sink: str, capture: Mapping[str, Any]) -> None:
        peer = self.node_at(str(capture.get("peer", "")), sink) or str(capture.get("peer", "?"))
        stamp, when = _capture_time(capture)
        rcpts = tuple(str(r) for r in capture.get("rcpt_to", ()))
        detail = f"from {capture.get('peer', '?')} <{capture.get('mail_from', '')}> -> {', '.join(rcpts)}"
        for ordered in hops:  # the hop that handed it over becomes the capture
            hop = ordered.hop
            if (
                hop.source == peer
                and hop.target == sink
                and hop.outcome == ACCEPTED
                and "captured" not in ordered.extra
            ):
                ordered.hop = Hop(
                    peer,
                    sink,
                    CAPTURED,
                    hop.qid,
                    f"{detail}; {hop.detail}".strip("; "),
                    hop.time or stamp,
                    hop.recipients or rcpts,
                )
                ordered.extra["captured"] = "yes"
                ordered.when = ordered.when or when
                return
        hops.append(_Ordered(Hop(peer, sink, CAPTURED, "", detail, stamp, rcpts), when, extra={"captured": "yes"}))

    def order(self, origin: str, hops: list[_Ordered]) -> list[_Ordered]:
        """By time (the sending first, the fetches last), then by the distance of the hop's
        node from the origin, then as found."""
        depth = {origin: 0}
        frontier = [origin]
        while frontier:
            nxt = []
            for node in frontier:
                for o in hops:
                    if o.hop.source == node and o.hop.target not in depth:
                        depth[o.hop.target] = depth[node] + 1
                        nxt.append(o.hop.target)
            frontier = nxt
        for i, o in enumerate(hops):
            o.seq = i
        first = min((o.when for o in hops if o.when is not None), default=(0,))

        def key(o: _Ordered) -> tuple[tuple[int, ...], int, int]:
            return (o.when if o.when is not None else first, depth.get(o.hop.source, 99), o.seq)

        return sorted(hops, key=key)


def build_paths(
    addresses: Mapping[str, str],
    sendings: Iterable[Sending],
    records: Iterable[NodeRecord],
    fetches: Iterable[Fetching] = (),
) -> list[MessagePath]:
    """The path of every message sent. ``addresses`` maps each address in the topology to
    its node; ``records`` is what each node logged and captured."""
    builder = _Builder(addresses, {r.name: r for r in records})
    fetched = list(fetches)
    return [builder.path(s, fetched) for s in sendings]


def addresses(scenario: Scenario) -> dict[str, str]:
    """Every address of the scenario's networks -> the node that has it."""
    found = {str(a.ip): node.name for node in scenario.nodes for a in node.attachments}
    found.update({str(ip): node.name for node in scenario.nodes for ip in node.ip6s})
    return found


def message_ids_in(messages: Iterable[bytes]) -> tuple[str, ...]:
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    found = []
    for raw in messages:
        value = parser.parsebytes(raw).get("Message-ID")
        if value:
            found.append(str(value).strip())
    return tuple(found)


def observe(topology: Topology) -> list[MessagePath]:
    """The paths of every message the run sent, from the running (or stopped) nodes."""
    try:
        return _observe(topology)
    except Exception:  # the picture must never hide the run's own result
        return []


def records_of(topology: Topology) -> list[NodeRecord]:
    """What every node logged (MTAs) and captured (sinks); a node that cannot be read is left out."""
    from harness.kinds import CaptureSink, Mta, capability

    records = []
    for handle in topology.nodes.values():
        try:
            mta = capability(handle.node, Mta)
            lines = tuple(handle.log_lines()) if mta is not None else ()
            deliveries = tuple(mta.deliveries(list(lines))) if mta is not None else ()
            captures = tuple(handle.captures()) if capability(handle.node, CaptureSink) else ()
        except Exception:  # a node that cannot be read adds no hops; the others still do
            continue
        records.append(NodeRecord(handle.name, lines, deliveries, captures))
    return records


def sendings_of(topology: Topology) -> list[Sending]:
    sendings = []
    for sent in topology.sent.values():
        server = sent.server
        if server is not None and server not in topology.nodes:
            server = topology.node_at(server) or server
        replies = sent.transcript
        # Accepted: the 250 to DATA (it names the queue id); else the refusing reply.
        data = next((r for r in replies if r.stage == "data" and 200 <= r.code < 300), None)
        refused = next((r for r in replies if not 200 <= r.code < 400), None)
        last = (data if sent.accepted else refused) or (replies[-1] if replies else None)
        reply = f"{last.stage}: {last.code} {last.text.splitlines()[0] if last.text else ''}".strip() if last else ""
        sendings.append(
            Sending(sent.name, sent.message.message_id, sent.source, server, sent.accepted, reply, sent.error or "")
        )
    return sendings


def fetches_of(topology: Topology) -> list[Fetching]:
    return [
        Fetching(f.name, f.source, f.server, f.protocol, f.user, message_ids_in(f.messages))
        for f in topology.fetched.values()
    ]


def _observe(topology: Topology) -> list[MessagePath]:
    return build_paths(addresses(topology.scenario), sendings_of(topology), records_of(topology), fetches_of(topology))


# ---- the topology, as the pictures need it ------------------------------------------------
@dataclass(frozen=True)
class NetworkPlace:
    name: str
    subnet: str


@dataclass(frozen=True)
class NodePlace:
    name: str
    kind: str
    hostname: str
    addresses: tuple[tuple[str, str], ...]  # (network, address)


@dataclass(frozen=True)
class TopologyMap:
    """Networks (name, subnet) and nodes (name, kind, hostname, address per network)."""

    networks: tuple[NetworkPlace, ...]
    nodes: tuple[NodePlace, ...]

    @classmethod
    def of(cls, scenario: Scenario) -> TopologyMap:
        return cls(
            tuple(
                NetworkPlace(n.name, str(n.subnet) + (f" {n.subnet6}" if n.subnet6 else "")) for n in scenario.networks
            ),
            tuple(
                NodePlace(
                    n.name,
                    n.kind,
                    n.hostname,
                    tuple((a.network, str(a.ip) + (f" {a.ip6}" if a.ip6 else "")) for a in n.attachments),
                )
                for n in scenario.nodes
            ),
        )

    def kind_of(self, node: str) -> str:
        return next((n.kind for n in self.nodes if n.name == node), "")

    def to_json(self) -> dict[str, Any]:
        return {
            "networks": [{"name": n.name, "subnet": n.subnet} for n in self.networks],
            "nodes": [
                {"name": n.name, "kind": n.kind, "hostname": n.hostname, "addresses": dict(n.addresses)}
                for n in self.nodes
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TopologyMap:
        return cls(
            tuple(NetworkPlace(str(n["name"]), str(n["subnet"])) for n in data.get("networks", ())),
            tuple(
                NodePlace(
                    str(n["name"]),
                    str(n.get("kind", "")),
                    str(n.get("hostname", "")),
                    tuple((str(k), str(v)) for k, v in dict(n.get("addresses", {})).items()),
                )
                for n in data.get("nodes", ())
            ),
        )
