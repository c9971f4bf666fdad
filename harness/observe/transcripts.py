"""SMTP transcripts from packet captures: every SMTP session of a topology as the dialogue
on the wire (connect, banner, EHLO and its capabilities, MAIL, RCPT, DATA, QUIT), with the
time of each line, the nodes at both ends, the Message-ID it carried and the queue id the
server gave it.

The captures are pcap files written by tcpdump in a sidecar that shares a node's network
namespace (``harness.topology.capture``); this module reads them with dpkt and needs no
Docker. A session is reassembled per direction by TCP sequence number (retransmissions and
overlaps are dropped), split into CRLF lines and read as SMTP:

- the content between DATA's 354 and the final ``.`` is elided: its size, line count and
  Message-ID are kept;
- after the 220 reply to STARTTLS everything is encrypted: the transcript ends there and
  says how many bytes followed; a session whose client speaks TLS first (SMTPS, port 465)
  is shown as encrypted from the start;
- a session whose server does not greet with 220 (POP3, IMAP) is not SMTP and is left out;
  a connection attempt without an answer (refused, timed out) is kept when its port is one
  the topology's SMTP sessions use.

The same session is usually captured twice, at both ends; the capture of the server's end
is kept, and a segment it missed is taken from the capture of the client's end (one
capture on a loaded machine has been seen to lack a segment its node answered); bytes
neither capture saw are shown as missing.
"""

from __future__ import annotations

import calendar
import io
import ipaddress
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import dpkt

CLIENT, SERVER = "C", "S"
SMTP_PORTS = frozenset({25, 465, 587})
# TLS records start with a content type (0x16 handshake) and version 3.x.
_TLS_START = re.compile(rb"^\x16\x03[\x00-\x04]")
# An SMTP greeting: 220, or a refusal such as 554 or 421 (POP3 and IMAP greet otherwise).
_GREETING = re.compile(rb"^[2-5]\d\d[- \r\n]")
_MESSAGE_ID = re.compile(r"^message-id:\s*(<[^>]*>)", re.IGNORECASE)
# The server's queue id in its reply to the end of DATA: Postfix's "queued as QID",
# sendmail's "QID Message accepted for delivery".
_QUEUED = (
    re.compile(r"\bqueued as (?P<qid>[0-9A-Za-z]+)"),
    re.compile(r"^\d{3}[ -](?:\d\.\d{1,3}\.\d{1,3} )?(?P<qid>[0-9A-Za-z]{8,20}) Message accepted for delivery"),
)


# ---- TCP streams from pcap ---------------------------------------------------------------------
@dataclass
class _Direction:
    """One direction of a TCP connection: its segments by sequence offset, and the segments
    another capture of the same connection saw (``fill``: used only where these have a gap)."""

    base: int | None = None  # the sequence number of the first payload byte
    chunks: list[tuple[float, int, bytes]] = field(default_factory=list)  # (time, offset, payload)
    fill: list[tuple[float, int, bytes]] = field(default_factory=list)

    def add(self, ts: float, seq: int, payload: bytes) -> None:
        if self.base is None:
            self.base = seq
        self.chunks.append((ts, (seq - self.base) % (1 << 32), payload))

    def take_fill(self, other: _Direction) -> None:
        """Keep the other capture's segments of this direction as fill."""
        if other.base is None:
            return
        if self.base is None:
            self.base = other.base
        ahead = (self.base - other.base) % (1 << 32)
        if 0 < ahead < (1 << 31):  # the other capture saw earlier bytes: count from its base
            self.chunks = [(ts, offset + ahead, payload) for ts, offset, payload in self.chunks]
            self.fill = [(ts, offset + ahead, payload) for ts, offset, payload in self.fill]
            self.base = other.base
        shift = (other.base - self.base) % (1 << 32)
        self.fill += [(ts, (offset + shift) % (1 << 32), payload) for ts, offset, payload in other.chunks + other.fill]

    def data(self) -> tuple[list[tuple[float, bytes]], int]:
        """The payload in sequence order, each piece with the time it was first seen; bytes
        seen twice (retransmissions, overlaps) only once, from this capture's segments where
        they have them; and how many bytes came from the fill."""
        pieces: list[tuple[float, bytes]] = []
        done = 0
        filled = 0
        segments = [(offset, 0, ts, payload) for ts, offset, payload in self.chunks]
        segments += [(offset, 1, ts, payload) for ts, offset, payload in self.fill]
        for offset, rank, ts, payload in sorted(segments, key=lambda c: (c[0], c[1], c[2])):
            end = offset + len(payload)
            if end <= done:
                continue
            if offset > done:  # a gap: bytes no capture saw
                pieces.append((ts, b""))
            piece = payload[max(0, done - offset) :]
            pieces.append((ts, piece))
            filled += len(piece) if rank else 0
            done = end
        return pieces, filled


@dataclass
class TcpStream:
    """One TCP connection as one capture saw it."""

    client: tuple[str, int]
    server: tuple[str, int]
    start: float
    isn: int | None  # the client's initial sequence number, when the SYN was seen
    to_server: _Direction = field(default_factory=_Direction)
    to_client: _Direction = field(default_factory=_Direction)
    syns: int = 0
    answered: bool = False  # a SYN-ACK or any packet from the server was seen
    reset_by: str = ""  # CLIENT or SERVER when a RST ended it
    fin_by: list[str] = field(default_factory=list)
    end: float = 0.0
    other_capture: str = ""  # the node whose capture of the same connection fills gaps

    def take_fill(self, other: TcpStream, node: str) -> None:
        """Fill this capture's gaps with another capture of the same connection (its other
        end's): both are the same TCP byte streams, seen on the same host clock."""
        self.to_server.take_fill(other.to_server)
        self.to_client.take_fill(other.to_client)
        self.syns = max(self.syns, other.syns)
        self.answered = self.answered or other.answered
        self.reset_by = self.reset_by or other.reset_by
        self.fin_by += [s for s in other.fin_by if s not in self.fin_by]
        self.end = max(self.end, other.end)
        self.other_capture = node

    @property
    def key(self) -> tuple[str, int, str, int, int | None]:
        return (*self.client, *self.server, self.isn)


def _packets(data: bytes) -> Iterable[tuple[float, bytes, str, str, dpkt.tcp.TCP]]:
    """(time, the raw frame, source, destination, TCP segment) of every TCP packet of a pcap,
    whatever its link layer (tcpdump -i any writes Linux cooked v1 or v2). A file cut short
    (a capture still running) ends at its last whole packet."""
    if len(data) < 24:
        return
    reader = dpkt.pcap.Reader(io.BytesIO(data))
    link = reader.datalink()
    decode: Callable[[bytes], dpkt.Packet]
    if link == dpkt.pcap.DLT_LINUX_SLL2:
        decode = dpkt.sll2.SLL2
    elif link == dpkt.pcap.DLT_LINUX_SLL:
        decode = dpkt.sll.SLL
    elif link == dpkt.pcap.DLT_EN10MB:
        decode = dpkt.ethernet.Ethernet
    else:
        raise ValueError(f"pcap link type {link} is not one tcpdump writes for '-i any'")
    packets = iter(reader)
    while True:
        try:
            ts, frame = next(packets)
        except StopIteration:
            return
        except (dpkt.NeedData, dpkt.UnpackError, ValueError):
            return  # a truncated last record
        try:
            ip = decode(frame).data
        except (dpkt.NeedData, dpkt.UnpackError):
            continue
        if isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) and isinstance(ip.data, dpkt.tcp.TCP):
            if _truncated(ip):
                continue
            src = str(ipaddress.ip_address(ip.src))
            dst = str(ipaddress.ip_address(ip.dst))
            yield float(ts), frame, src, dst, ip.data


def _truncated(ip: dpkt.ip.IP | dpkt.ip6.IP6) -> bool:
    """Whether the packet has fewer bytes than its IP header says (the last record of a
    capture that is still being written)."""
    tcp = ip.data
    seen = dpkt.tcp.TCP.__hdr_len__ + len(tcp.opts) + len(tcp.data)
    if isinstance(ip, dpkt.ip.IP):
        return bool(ip.hl * 4 + seen < ip.len)
    return bool(seen < ip.plen)


def tcp_streams(data: bytes) -> list[TcpStream]:
    """Every TCP connection in a pcap, in the order they started."""
    streams: dict[tuple[tuple[str, int], tuple[str, int]], TcpStream] = {}
    for ts, _frame, src, dst, tcp in _packets(data):
        flags = tcp.flags
        a, b = (src, tcp.sport), (dst, tcp.dport)
        syn, ack = flags & dpkt.tcp.TH_SYN, flags & dpkt.tcp.TH_ACK
        if syn and not ack:
            stream = streams.get((a, b))
            if stream is None or (stream.isn is not None and stream.isn != tcp.seq and stream.answered):
                # a new connection (a port reused after an earlier one ended)
                stream = TcpStream(a, b, ts, tcp.seq)
                stream.to_server.base = (tcp.seq + 1) % (1 << 32)
                streams[(a, b)] = stream
            stream.syns += 1
            stream.end = ts
            continue
        if (a, b) in streams:
            stream, sender = streams[(a, b)], CLIENT
        elif (b, a) in streams:
            stream, sender = streams[(b, a)], SERVER
        else:  # the capture started within the connection: the lower port is the server
            client, server = (a, b) if a[1] > b[1] else (b, a)
            stream = streams.setdefault((client, server), TcpStream(client, server, ts, None))
            sender = CLIENT if a == client else SERVER
        stream.end = ts
        if sender == SERVER:
            stream.answered = True
            if syn and stream.to_client.base is None:
                stream.to_client.base = (tcp.seq + 1) % (1 << 32)
        if flags & dpkt.tcp.TH_RST:
            stream.reset_by = stream.reset_by or sender
        if flags & dpkt.tcp.TH_FIN and sender not in stream.fin_by:
            stream.fin_by.append(sender)
        payload = bytes(tcp.data)
        if payload:
            (stream.to_server if sender == CLIENT else stream.to_client).add(ts, tcp.seq, payload)
    return sorted(streams.values(), key=lambda s: s.start)


# ---- SMTP sessions ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    time: float
    sender: str  # CLIENT or SERVER; "" for a note of the harness's
    text: str


@dataclass
class Session:
    """One SMTP session, read from the capture of one of its ends."""

    client: tuple[str, int]
    server: tuple[str, int]
    start: float
    lines: list[Line]
    captured_at: str = ""  # the node whose capture it was read from
    filled_from: str = ""  # the node whose capture of it had bytes the first one missed
    client_node: str | None = None
    server_node: str | None = None
    message_ids: list[str] = field(default_factory=list)
    queue_ids: list[str] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)  # MAIL FROM addresses
    recipients: list[str] = field(default_factory=list)  # RCPT TO addresses
    tls: str = ""  # "starttls", "implicit" or ""
    key: tuple[str, int, str, int, int | None] = ("", 0, "", 0, None)
    end: float = 0.0  # the last packet seen
    # An encrypted session tied to a message by the sending MTA's log: that log line, and
    # how many sessions it could be (the log tells the second only).
    tied_by: str = ""
    tied_among: int = 0

    @property
    def server_side(self) -> bool:
        """Whether it was captured at its server's end."""
        return bool(self.captured_at) and self.captured_at == self.server_node

    def carries(self, message_id: str) -> bool:
        return message_id in self.message_ids

    def describe(self) -> list[str]:
        """The session as text: a heading, then one line per SMTP line with its time."""

        def end(address: tuple[str, int], node: str | None) -> str:
            host = f"[{address[0]}]" if ":" in address[0] else address[0]
            return f"{node or '?'} ({host}:{address[1]})"

        when = time.strftime("%H:%M:%S", time.gmtime(self.start)) + f".{int(self.start * 1000) % 1000:03d}"
        heading = f"SMTP {end(self.client, self.client_node)} -> {end(self.server, self.server_node)} at {when} UTC"
        facts = []
        if self.message_ids:
            facts.append("message " + ", ".join(self.message_ids))
        if self.queue_ids:
            facts.append(f"queued at {self.server_node or self.server[0]} as " + ", ".join(self.queue_ids))
        if self.captured_at:
            facts.append(f"captured at {self.captured_at}")
        if self.filled_from:
            facts.append(f"what that capture missed taken from {self.filled_from}'s")
        out = [heading + (f"  ({'; '.join(facts)})" if facts else "")]
        if self.tied_by:
            which = "it" if self.tied_among <= 1 else f"one of {self.tied_among} sessions open then"
            out.append(f"  (encrypted; {self.client_node} logged handing the message over in {which}: {self.tied_by})")
        for line in self.lines:
            mark = {CLIENT: "C:", SERVER: "S:"}.get(line.sender, "--")
            offset = f"+{line.time - self.start:.3f}"
            out.append(f"  {offset:>8}  {mark} {line.text}")
        return out


def _lines(pieces: list[tuple[float, bytes]]) -> tuple[list[tuple[float, bytes]], bytes]:
    """A direction's payload as (time, line without CRLF), and what followed the last line
    break. A line's time is that of the packet that ended it; a gap in the capture is a line
    of its own (``None`` marker as the empty bytes with a NUL)."""
    lines: list[tuple[float, bytes]] = []
    buffer = b""
    for ts, chunk in pieces:
        if not chunk:
            if buffer:
                lines.append((ts, buffer))
            lines.append((ts, b"\0gap"))
            buffer = b""
            continue
        buffer += chunk
        while b"\n" in buffer:
            line, _, buffer = buffer.partition(b"\n")
            lines.append((ts, line.rstrip(b"\r")))
    return lines, buffer


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _address(argument: str) -> str:
    match = re.search(r"<([^>]*)>", argument)
    return match.group(1) if match else argument.split(" ", 1)[0].partition(":")[2]


def session_of(stream: TcpStream) -> Session | None:
    """The SMTP session of a TCP connection; None when it is not SMTP."""
    session = Session(stream.client, stream.server, stream.start, [], key=stream.key, end=stream.end)
    to_server, filled_to_server = stream.to_server.data()
    to_client, filled_to_client = stream.to_client.data()
    if filled_to_server or filled_to_client:
        session.filled_from = stream.other_capture
    if not to_server and not to_client:
        what = "connection refused (RST)" if stream.reset_by == SERVER else ""
        if not stream.answered:
            what = f"no answer to {stream.syns} SYN{'s' if stream.syns != 1 else ''} (timed out or dropped)"
        session.lines = [Line(stream.start, "", "connect"), Line(stream.end, "", what or "closed without a word")]
        return session
    first_client = next((c for _, c in to_server if c), b"")
    first_server = next((c for _, c in to_client if c), b"")
    if _TLS_START.match(first_client) and not _GREETING.match(first_server):
        session.tls = "implicit"
        session.lines = [
            Line(stream.start, "", "connect"),
            Line(
                stream.start,
                "",
                f"TLS from the first byte (SMTPS): the whole session is encrypted "
                f"({sum(len(c) for _, c in to_server)} bytes from the client, "
                f"{sum(len(c) for _, c in to_client)} from the server)",
            ),
        ]
        return session
    if not _GREETING.match(first_server):
        return None
    client_lines, client_rest = _lines(to_server)
    server_lines, server_rest = _lines(to_client)
    merged = sorted(
        [(ts, 1, CLIENT, i, raw) for i, (ts, raw) in enumerate(client_lines)]
        + [(ts, 0 if i == 0 else 1, SERVER, i, raw) for i, (ts, raw) in enumerate(server_lines)],
        key=lambda e: (e[0], e[1]),
    )
    # Keep each direction's own order (sorting by time alone may swap lines of one packet).
    queues: dict[str, list[bytes]] = {
        CLIENT: [raw for _, raw in client_lines],
        SERVER: [raw for _, raw in server_lines],
    }
    order = [(ts, sender) for ts, _, sender, _, _ in merged]
    lines: list[Line] = [Line(stream.start, "", "connect")]
    in_data = False
    content: list[bytes] = []
    content_ids: list[str] = []
    in_headers = True
    last_command = ""
    starttls_at: float | None = None
    pending_data_end = False
    for ts, sender in order:
        raw = queues[sender].pop(0)
        if raw == b"\0gap":
            lines.append(Line(ts, sender, "(bytes missing from the capture)"))
            continue
        text = _text(raw)
        if sender == CLIENT:
            if in_data:
                if raw == b".":
                    size = sum(len(c) + 2 for c in content)
                    what = f"(message content: {size} bytes, {len(content)} lines"
                    what += "; Message-ID: " + ", ".join(content_ids) + ")" if content_ids else ")"
                    lines.append(Line(ts, CLIENT, what))
                    lines.append(Line(ts, CLIENT, "."))
                    session.message_ids += [m for m in content_ids if m not in session.message_ids]
                    in_data, content, content_ids, in_headers = False, [], [], True
                    pending_data_end = True
                    continue
                content.append(raw)
                if in_headers:
                    if not raw:
                        in_headers = False
                    else:
                        found = _MESSAGE_ID.match(text)
                        if found:
                            content_ids.append(found.group(1))
                continue
            verb, _, argument = text.partition(" ")
            last_command = verb.upper()
            if last_command == "MAIL":
                session.senders.append(_address(argument))
            elif last_command == "RCPT":
                session.recipients.append(_address(argument))
            lines.append(Line(ts, CLIENT, text))
        else:
            lines.append(Line(ts, SERVER, text))
            final = len(text) < 4 or text[3] != "-"
            if not final:
                continue
            if last_command == "DATA" and text.startswith("354"):
                in_data = True
                last_command = ""
            elif pending_data_end:
                pending_data_end = False
                if text.startswith("2"):
                    for pattern in _QUEUED:
                        found = pattern.search(text)
                        if found:
                            session.queue_ids.append(found.group("qid"))
                            break
            elif last_command == "STARTTLS" and text.startswith("220"):
                starttls_at = ts
                break
    if in_data and content:
        lines.append(
            Line(stream.end, CLIENT, f"(message content, unfinished: {sum(len(c) + 2 for c in content)} bytes)")
        )
        session.message_ids += [m for m in content_ids if m not in session.message_ids]
    if starttls_at is not None:
        session.tls = "starttls"
        after_client = sum(len(c) for ts, c in to_server if ts > starttls_at)
        after_server = sum(len(c) for ts, c in to_client if ts > starttls_at)
        lines.append(
            Line(
                starttls_at,
                "",
                f"TLS from here on: the rest of the session is encrypted "
                f"({after_client} bytes from the client, {after_server} from the server)",
            )
        )
    else:
        for sender, rest in ((CLIENT, client_rest), (SERVER, server_rest)):
            if rest:
                lines.append(Line(stream.end, sender, _text(rest) + "  (no line end)"))
        lines.append(Line(stream.end, "", _ending(stream)))
    session.lines = lines
    return session


def _ending(stream: TcpStream) -> str:
    if stream.reset_by:
        return f"reset by the {'client' if stream.reset_by == CLIENT else 'server'}"
    if stream.fin_by:
        return f"closed by the {'client' if stream.fin_by[0] == CLIENT else 'server'}"
    return "still open at the end of the capture"


def _loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


def sessions(captures: Iterable[tuple[str, bytes]], node_at: Callable[[str], str | None]) -> list[Session]:
    """The SMTP sessions of a topology from its captures ((capturing node, pcap bytes)),
    each session once, with the nodes at both ends (``node_at``: address -> node name),
    in the order they started.

    The harness's own readiness probes (a greeting read on loopback, nothing sent) are left
    out; a session captured at both ends is kept from its server's end, with what that
    capture missed taken from the client's end (``Session.filled_from``)."""
    found: dict[tuple[str, int, str, int, int | None], Session] = {}
    unanswered: list[Session] = []
    for node, stream in _one_stream_a_connection(captures, node_at):
        session = session_of(stream)
        if session is None:
            continue
        session.captured_at = node
        local = _loopback(stream.client[0]) and _loopback(stream.server[0])
        session.client_node = node if local else node_at(stream.client[0])
        session.server_node = node if local else node_at(stream.server[0])
        if local and not session.senders:
            continue
        payload = stream.to_server.chunks or stream.to_server.fill or stream.to_client.chunks or stream.to_client.fill
        if not payload and stream.isn is not None:
            unanswered.append(session)
            continue
        earlier = found.get(session.key)
        if earlier is None or (session.server_side and not earlier.server_side):
            found[session.key] = session
    smtp_ports = SMTP_PORTS | {s.server[1] for s in found.values()}
    for session in unanswered:
        earlier = found.get(session.key)
        if session.server[1] in smtp_ports and (earlier is None or (session.server_side and not earlier.server_side)):
            found[session.key] = session
    return sorted(found.values(), key=lambda s: (s.start, s.key))


def _one_stream_a_connection(
    captures: Iterable[tuple[str, bytes]], node_at: Callable[[str], str | None]
) -> list[tuple[str, TcpStream]]:
    """Every capture's TCP streams, a connection captured at both of its ends (the same
    addresses, ports and initial sequence number in two nodes' captures) once: from its
    server's end, with the client's end filling what the server's capture missed."""
    streams = [(node, stream) for node, data in captures for stream in tcp_streams(data)]
    by_connection: dict[tuple[str, int, str, int, int | None], list[tuple[str, TcpStream]]] = {}
    for node, stream in streams:
        if stream.isn is not None and not (_loopback(stream.client[0]) and _loopback(stream.server[0])):
            by_connection.setdefault(stream.key, []).append((node, stream))
    merged_away: set[int] = set()
    for seen in by_connection.values():
        if len({node for node, _ in seen}) < 2:
            continue
        kept_node, kept = next(((n, s) for n, s in seen if n == node_at(s.server[0])), seen[0])
        for node, stream in seen:
            if stream is not kept and node != kept_node:
                kept.take_fill(stream, node)
                merged_away.add(id(stream))
    return [(node, stream) for node, stream in streams if id(stream) not in merged_away]


def hops_of(
    all_sessions: list[Session], message_id: str, sender: str = "", recipients: Iterable[str] = ()
) -> list[Session]:
    """The sessions of one message: those whose DATA carried its Message-ID, and those that
    ended before DATA for the same envelope (MAIL FROM and a RCPT TO), such as a refusal at
    RCPT or a deferral."""
    wanted = {r.lower() for r in recipients}
    result = []
    for session in all_sessions:
        if session.carries(message_id):
            result.append(session)
        elif (
            not session.message_ids
            and sender
            and sender.lower() in (s.lower() for s in session.senders)
            and wanted & {r.lower() for r in session.recipients}
        ):
            result.append(session)
    return result


def describe(all_sessions: list[Session]) -> list[str]:
    """Every session as text, one after the other."""
    out: list[str] = []
    for session in all_sessions:
        out += session.describe()
    return out


# ---- encrypted hops, tied to a message by the sending MTA's log ------------------------------------
_SYSLOG_TIME = re.compile(r"^(?P<stamp>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d)\b")
_DELAY = re.compile(r"\bdelay=(?P<delay>\d+(?:\.\d+)?)")
_RELAY_ADDRESS = re.compile(r"\[(?P<ip>[0-9A-Fa-f.:]+)\](?::(?P<port>\d+))?")


@dataclass(frozen=True)
class Handover:
    """A delivery an MTA logged: it handed a message to ``ip`` (``port`` where the log says)
    at ``time`` (the log's, to the second)."""

    node: str
    ip: str
    port: int | None
    time: float
    line: str
    # When the message reached the node (the end of the session that brought it, where one
    # was captured) and the MTA's own delay (Postfix's delay=): the session started between.
    arrived: float | None = None
    delay: float | None = None

    def could_be(self, session: Session) -> bool:
        if self.arrived is not None and self.delay is not None:
            return self.arrived - 0.05 <= session.start <= self.arrived + self.delay + 0.1
        return self.time + 1 > session.start and self.time <= session.end + 0.5


def handover(node: str, relay: str, raw: str, near: float, arrived: float | None = None) -> Handover | None:
    """The handover a delivery line tells (``relay`` as the log parser read it: Postfix's
    ``host[ip]:port``, sendmail's ``host. [ip]``); the year is that of ``near``; ``arrived``:
    when the message reached the node, if known."""
    address = _RELAY_ADDRESS.search(relay)
    stamp = _SYSLOG_TIME.match(raw)
    if address is None or stamp is None:
        return None
    year = time.gmtime(near).tm_year
    try:
        parsed = time.strptime(f"{year} {' '.join(stamp.group('stamp').split())}", "%Y %b %d %H:%M:%S")
    except ValueError:
        return None
    seconds = float(calendar.timegm(parsed))
    port = int(address.group("port")) if address.group("port") else None
    delay = _DELAY.search(raw)
    return Handover(
        node, address.group("ip"), port, seconds, raw, arrived, float(delay.group("delay")) if delay else None
    )


def encrypted_hops(all_sessions: list[Session], handovers: Iterable[Handover]) -> list[Session]:
    """The encrypted sessions (STARTTLS, SMTPS) in which an MTA logged handing a message
    over: from that node, to that address, started after the message reached the node and
    within the MTA's logged delay (Postfix), or else open in the second of the log line.
    Where several sessions fit, each is given, and says so. Postfix
    reuses a session for several messages, so one session may be the hop of more than one."""
    result: dict[int, Session] = {}
    for h in handovers:
        matching = [
            session
            for session in all_sessions
            if session.tls
            and not session.message_ids
            and h.node == session.client_node
            and h.ip == session.server[0]
            and (h.port is None or h.port == session.server[1])
            and h.could_be(session)
        ]
        for session in matching:
            session.tied_by, session.tied_among = h.line, len(matching)
            result[id(session)] = session
    return sorted(result.values(), key=lambda s: (s.start, s.key))
