"""SMTP transcripts from packet captures (harness/observe/transcripts.py), without Docker.

``data/transcripts/bookworm-*.pcap`` were written by the capture sidecars of
scenarios/relay-store-transcripts.yaml on bookworm (tcpdump -i any, Linux cooked v2): a
message sender -> mrelay -> mstore, a STARTTLS session at the sink, a relay refused at RCPT.
The other cases are synthetic packets written with dpkt's own pcap writer.
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Callable
from pathlib import Path

import dpkt
import pytest

from harness.cli import build_parser
from harness.core import engine
from harness.messages import Message
from harness.observe.transcripts import (
    CLIENT,
    SERVER,
    Handover,
    Session,
    describe,
    encrypted_hops,
    handover,
    hops_of,
    sessions,
    tcp_streams,
)
from harness.runner import RunResult, hop_transcripts
from harness.scenario.loader import load_scenario_text
from harness.topology.capture import CAPTURE_IMAGE, CAPTURE_SCRIPT, LABEL_CAPTURE_OF, Sidecar
from harness.topology.sending import Sent

DATA = Path(__file__).parent / "data" / "transcripts"
NODES = {
    "10.229.1.10": "mrelay",
    "10.229.1.20": "mstore",
    "10.229.1.30": "hostc",
    "10.229.1.100": "sender",
    "10.229.1.110": "inet-mx",
}
MESSAGE_ID = "<m1.83481595.ae82d8fa8de2@mta-harness.test>"


def captured() -> list[Session]:
    captures = [(p.stem.split("-", 1)[1], p.read_bytes()) for p in sorted(DATA.glob("bookworm-*.pcap"))]
    return sessions(captures, NODES.get)


def texts(session: Session) -> list[tuple[str, str]]:
    return [(line.sender, line.text) for line in session.lines]


# ---- real captures ---------------------------------------------------------------------------
def test_each_session_once_from_its_server_end() -> None:
    found = captured()
    ends = [(s.client_node, s.server_node, s.captured_at) for s in found]
    # mrelay -> mstore is in both mrelay's and mstore's capture: kept from mstore's; the
    # readiness probes on loopback (hostc's capture has nothing else) are left out.
    assert ends == [
        ("sender", "mrelay", "mrelay"),
        ("mrelay", "mstore", "mstore"),
        ("sender", "inet-mx", "inet-mx"),
        ("sender", "mrelay", "mrelay"),
    ]
    assert [s.start for s in found] == sorted(s.start for s in found)


def test_the_relay_to_store_hop_with_envelope_content_and_queue_id() -> None:
    hop = captured()[1]
    assert texts(hop) == [
        ("", "connect"),
        (SERVER, "220 mstore.nix.co.jj ESMTP Postfix (Debian/GNU)"),
        (CLIENT, "EHLO mrelay.nix.co.jj"),
        (SERVER, "250-mstore.nix.co.jj"),
        (SERVER, "250-PIPELINING"),
        (SERVER, "250-SIZE 10240000"),
        (SERVER, "250-VRFY"),
        (SERVER, "250-ETRN"),
        (SERVER, "250-STARTTLS"),
        (SERVER, "250-ENHANCEDSTATUSCODES"),
        (SERVER, "250-8BITMIME"),
        (SERVER, "250-DSN"),
        (SERVER, "250 CHUNKING"),
        (CLIENT, "MAIL FROM:<friend@outside.test> SIZE=433"),
        (CLIENT, "RCPT TO:<taro@nix.co.jj> ORCPT=rfc822;taro@nix.co.jj"),
        (CLIENT, "DATA"),
        (SERVER, "250 2.1.0 Ok"),
        (SERVER, "250 2.1.5 Ok"),
        (SERVER, "354 End data with <CR><LF>.<CR><LF>"),
        (CLIENT, f"(message content: 433 bytes, 11 lines; Message-ID: {MESSAGE_ID})"),
        (CLIENT, "."),
        (CLIENT, "QUIT"),
        (SERVER, "250 2.0.0 Ok: queued as B002D315DD6"),
        (SERVER, "221 2.0.0 Bye"),
        ("", "closed by the client"),
    ]
    assert (hop.message_ids, hop.queue_ids) == ([MESSAGE_ID], ["B002D315DD6"])
    assert (hop.senders, hop.recipients) == (["friend@outside.test"], ["taro@nix.co.jj"])
    assert hop.client == ("10.229.1.10", 40450) and hop.server == ("10.229.1.20", 25)
    times = [line.time for line in hop.lines]
    assert times == sorted(times) and times[-1] - times[0] < 1.0


def test_the_description_names_both_ends_and_the_queue_id() -> None:
    text = describe([captured()[1]])
    assert text[0] == (
        "SMTP mrelay (10.229.1.10:40450) -> mstore (10.229.1.20:25) at 18:21:40.680 UTC  "
        f"(message {MESSAGE_ID}; queued at mstore as B002D315DD6; captured at mstore)"
    )
    assert text[1] == "    +0.000  -- connect"
    assert text[2].endswith("S: 220 mstore.nix.co.jj ESMTP Postfix (Debian/GNU)")
    assert "  C: MAIL FROM:<friend@outside.test> SIZE=433" in text[14]


def test_starttls_ends_the_transcript() -> None:
    tls = captured()[2]
    assert texts(tls)[-3:] == [
        (CLIENT, "STARTTLS"),
        (SERVER, "220 Ready to start TLS"),
        (
            "",
            "TLS from here on: the rest of the session is encrypted (1077 bytes from the client, 2264 from the server)",
        ),
    ]
    assert tls.tls == "starttls" and not tls.message_ids and not tls.senders


def test_the_hops_of_a_message_and_of_one_refused_before_data() -> None:
    found = captured()
    assert [(s.client_node, s.server_node) for s in hops_of(found, MESSAGE_ID)] == [
        ("sender", "mrelay"),
        ("mrelay", "mstore"),
    ]
    assert [s.queue_ids for s in hops_of(found, MESSAGE_ID)] == [["A0C73315DDA"], ["B002D315DD6"]]
    refused = hops_of(found, "<other@mta-harness.test>", "spam@outside.test", ["victim@not-ours.test"])
    assert len(refused) == 1
    assert texts(refused[0])[-4:] == [
        (SERVER, "454 4.7.1 <victim@not-ours.test>: Relay access denied"),
        (CLIENT, "quit"),
        (SERVER, "221 2.0.0 Bye"),
        ("", "closed by the server"),
    ]
    assert hops_of(found, "<other@mta-harness.test>", "spam@outside.test", ["someone@else.test"]) == []


def test_a_capture_cut_short_ends_at_its_last_whole_packet() -> None:
    data = (DATA / "bookworm-mstore.pcap").read_bytes()
    whole = tcp_streams(data)
    cut = tcp_streams(data[:-7])
    assert len(cut) == len(whole)
    assert max(s.end for s in cut) < max(s.end for s in whole)  # the last packet is gone
    first_cut = sessions([("mstore", data[:-7])], NODES.get)[0]
    first_whole = sessions([("mstore", data)], NODES.get)[0]
    assert texts(first_cut) == texts(first_whole)


# ---- synthetic packets -------------------------------------------------------------------------
CLIENT_IP, SERVER_IP = "10.229.9.10", "10.229.9.20"
SYN, ACK, PSH, FIN, RST = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_PUSH, dpkt.tcp.TH_FIN, dpkt.tcp.TH_RST


class Wire:
    """TCP packets of made-up sessions, written as a pcap with dpkt."""

    def __init__(self, link: int = dpkt.pcap.DLT_LINUX_SLL) -> None:
        self.link = link
        self.packets: list[tuple[float, bytes]] = []
        self.now = 1_800_000_000.0

    def packet(self, src: str, sport: int, dst: str, dport: int, flags: int, seq: int, data: bytes = b"") -> None:
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq % (1 << 32), flags=flags, data=data)
        ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=dpkt.ip.IP_PROTO_TCP, data=tcp)
        ip.len = len(bytes(ip))
        if self.link == dpkt.pcap.DLT_EN10MB:
            frame: dpkt.Packet = dpkt.ethernet.Ethernet(type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
        else:
            frame = dpkt.sll.SLL(ethtype=dpkt.ethernet.ETH_TYPE_IP, data=ip)
        self.now += 0.001
        self.packets.append((self.now, bytes(frame)))

    def pcap(self) -> bytes:
        out = io.BytesIO()
        writer = dpkt.pcap.Writer(out, linktype=self.link)
        for ts, frame in self.packets:
            writer.writepkt(frame, ts=ts)
        return out.getvalue()


class Conversation:
    """One TCP connection on a Wire: handshake, lines each way, close."""

    def __init__(self, wire: Wire, sport: int = 40000, dport: int = 25, client: str = CLIENT_IP) -> None:
        self.wire, self.sport, self.dport, self.client = wire, sport, dport, client
        self.server = SERVER_IP if client == CLIENT_IP else client
        self.cseq, self.sseq = 1000, 5000

    def connect(self) -> Conversation:
        self.wire.packet(self.client, self.sport, self.server, self.dport, SYN, self.cseq - 1)
        self.wire.packet(self.server, self.dport, self.client, self.sport, SYN | ACK, self.sseq - 1)
        return self

    def c(self, data: bytes, resend: bool = False) -> Conversation:
        self.wire.packet(self.client, self.sport, self.server, self.dport, ACK | PSH, self.cseq, data)
        if resend:  # a retransmission: the same bytes again
            self.wire.packet(self.client, self.sport, self.server, self.dport, ACK | PSH, self.cseq, data)
        self.cseq += len(data)
        return self

    def s(self, data: bytes) -> Conversation:
        self.wire.packet(self.server, self.dport, self.client, self.sport, ACK | PSH, self.sseq, data)
        self.sseq += len(data)
        return self

    def close(self) -> Conversation:
        self.wire.packet(self.client, self.sport, self.server, self.dport, FIN | ACK, self.cseq)
        self.wire.packet(self.server, self.dport, self.client, self.sport, FIN | ACK, self.sseq)
        return self


def sendmail_session(wire: Wire, resend: bool = False) -> None:
    (
        Conversation(wire)
        .connect()
        .s(b"220 hostc.example.test ESMTP Sendmail 8.18.1/8.18.1\r\n")
        .c(b"EHLO relay.example.test\r\n")
        .s(b"250-hostc.example.test Hello\r\n250-PIPELINING\r\n250 HELP\r\n")
        .c(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n", resend=resend)
        .s(b"250 2.1.0 <a@example.test>... Sender ok\r\n250 2.1.5 <b@example.test>... Recipient ok\r\n")
        .s(b'354 Enter mail, end with "." on a line by itself\r\n')
        .c(b"Subject: x\r\nMessage-ID: <s1@mta-harness.test>\r\n\r\nMessage-ID: <not-a-header@x>\r\n")
        .c(b".\r\nQUIT\r\n")
        .s(b"250 2.0.0 5B3HuVx1000123 Message accepted for delivery\r\n221 2.0.0 closing connection\r\n")
        .close()
    )


def one(data: bytes, node: str = "hostc") -> Session:
    found = sessions([(node, data)], {CLIENT_IP: "relay", SERVER_IP: "hostc"}.get)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("link", [dpkt.pcap.DLT_LINUX_SLL, dpkt.pcap.DLT_EN10MB], ids=["sll", "ethernet"])
def test_sendmail_queue_id_and_message_id_from_the_headers_only(link: int) -> None:
    wire = Wire(link)
    sendmail_session(wire)
    session = one(wire.pcap())
    assert session.queue_ids == ["5B3HuVx1000123"]
    assert session.message_ids == ["<s1@mta-harness.test>"]
    assert (CLIENT, "(message content: 79 bytes, 4 lines; Message-ID: <s1@mta-harness.test>)") in texts(session)
    assert (session.client_node, session.server_node, session.server_side) == ("relay", "hostc", True)


def test_retransmitted_and_reordered_segments_count_once() -> None:
    wire = Wire()
    sendmail_session(wire, resend=True)
    retransmitted = texts(one(wire.pcap()))
    wire = Wire()
    sendmail_session(wire)
    assert retransmitted == texts(one(wire.pcap()))
    # the server's two reply packets to the envelope, swapped on the wire
    wire = Wire()
    sendmail_session(wire)
    i = next(i for i, (_, f) in enumerate(wire.packets) if b"Sender ok" in f)
    (t1, a), (t2, b) = wire.packets[i], wire.packets[i + 1]
    wire.packets[i], wire.packets[i + 1] = (t1, b), (t2, a)
    lines = [text for sender, text in texts(one(wire.pcap())) if sender == SERVER]
    assert lines[4:7] == [
        "250 2.1.0 <a@example.test>... Sender ok",
        "250 2.1.5 <b@example.test>... Recipient ok",
        '354 Enter mail, end with "." on a line by itself',
    ]


def carrying(part: bytes) -> Callable[[bytes], bool]:
    return lambda frame: part in frame


def syn_ack(frame: bytes) -> bool:
    tcp = dpkt.sll.SLL(frame).data.data
    return bool(tcp.flags & SYN and tcp.flags & ACK)


def both_ends(
    lose_at_server: Callable[[bytes], bool], lose_at_client: Callable[[bytes], bool] = lambda frame: False
) -> list[Session]:
    """The sendmail session as captured at both ends, each capture without the packets that
    ``lose_at_*`` picks."""
    wire = Wire()
    sendmail_session(wire)

    def capture(lose: Callable[[bytes], bool]) -> bytes:
        kept = Wire()
        kept.packets = [(ts, frame) for ts, frame in wire.packets if not lose(frame)]
        return kept.pcap()

    nodes = {CLIENT_IP: "relay", SERVER_IP: "hostc"}
    return sessions([("hostc", capture(lose_at_server)), ("relay", capture(lose_at_client))], nodes.get)


def test_what_the_servers_capture_missed_is_taken_from_the_clients() -> None:
    wire = Wire()
    sendmail_session(wire)
    whole = texts(one(wire.pcap()))
    (session,) = both_ends(carrying(b"MAIL FROM:<a@example.test>"))
    assert texts(session) == whole
    assert (session.captured_at, session.filled_from) == ("hostc", "relay")
    assert session.senders == ["a@example.test"] and session.recipients == ["b@example.test"]
    assert describe([session])[0].endswith("captured at hostc; what that capture missed taken from relay's)")
    # the server's capture without its SYN-ACK and greeting: counted from the client's
    (session,) = both_ends(lambda frame: syn_ack(frame) or b"220 hostc.example.test" in frame)
    assert texts(session) == whole and session.filled_from == "relay"
    # both captures complete: nothing is taken from the client's
    (session,) = both_ends(lambda frame: False)
    assert texts(session) == whole and session.filled_from == ""
    assert "missed" not in describe([session])[0]


def test_bytes_neither_capture_saw_are_missing() -> None:
    mail = carrying(b"MAIL FROM:<a@example.test>")
    (session,) = both_ends(mail, mail)
    assert (CLIENT, "(bytes missing from the capture)") in texts(session)
    assert "MAIL FROM:<a@example.test>" not in [text for _, text in texts(session)]
    assert session.filled_from == ""


def test_implicit_tls_is_encrypted_from_the_first_byte() -> None:
    wire = Wire()
    Conversation(wire, dport=465).connect().c(b"\x16\x03\x01\x00\x05hello").s(b"\x16\x03\x03\x00\x02hi").close()
    session = one(wire.pcap())
    assert session.tls == "implicit"
    assert texts(session)[-1] == (
        "",
        "TLS from the first byte (SMTPS): the whole session is encrypted (10 bytes from the client, 7 from the server)",
    )


def test_refused_and_unanswered_connects_on_smtp_ports() -> None:
    wire = Wire()
    wire.packet(CLIENT_IP, 40001, SERVER_IP, 25, SYN, 99)
    wire.packet(SERVER_IP, 25, CLIENT_IP, 40001, RST | ACK, 0)
    for _ in range(3):
        wire.packet(CLIENT_IP, 40002, SERVER_IP, 587, SYN, 199)
    wire.packet(CLIENT_IP, 40003, SERVER_IP, 8080, SYN, 299)  # not an SMTP port: left out
    found = sessions([("hostc", wire.pcap())], {CLIENT_IP: "relay", SERVER_IP: "hostc"}.get)
    assert [(s.server[1], texts(s)[-1][1]) for s in found] == [
        (25, "connection refused (RST)"),
        (587, "no answer to 3 SYNs (timed out or dropped)"),
    ]


def test_other_protocols_and_readiness_probes_are_left_out() -> None:
    wire = Wire()
    Conversation(wire, dport=110).connect().s(b"+OK Dovecot ready.\r\n").c(b"QUIT\r\n").close()
    Conversation(wire, sport=40100, client="127.0.0.1").connect().s(b"220 hostc ESMTP\r\n").close()
    assert sessions([("hostc", wire.pcap())], lambda _: None) == []
    # a loopback session that carries mail (a content filter) is kept, at the capturing node
    wire = Wire()
    (
        Conversation(wire, sport=40200, dport=10025, client="127.0.0.1")
        .connect()
        .s(b"220 localhost ESMTP\r\n")
        .c(b"MAIL FROM:<a@example.test>\r\n")
        .s(b"250 2.1.0 Ok\r\n")
        .close()
    )
    local = one(wire.pcap(), node="mrelay")
    assert (local.client_node, local.server_node) == ("mrelay", "mrelay")


def test_a_refusing_greeting_is_smtp_too() -> None:
    wire = Wire()
    Conversation(wire).connect().s(b"554 5.7.1 no service for you\r\n").c(b"QUIT\r\n").s(b"221 Bye\r\n").close()
    assert texts(one(wire.pcap()))[1] == (SERVER, "554 5.7.1 no service for you")


def test_a_session_still_open_and_a_capture_started_midway() -> None:
    wire = Wire()
    conversation = Conversation(wire)
    conversation.cseq, conversation.sseq = 7000, 9000  # no handshake seen: mid-session
    conversation.s(b"220 hostc ESMTP\r\n").c(b"EHLO relay.example.test\r\n").s(b"250 hostc\r\n")
    session = one(wire.pcap())
    assert texts(session)[1:] == [
        (SERVER, "220 hostc ESMTP"),
        (CLIENT, "EHLO relay.example.test"),
        (SERVER, "250 hostc"),
        ("", "still open at the end of the capture"),
    ]
    assert session.client == (CLIENT_IP, 40000)


def test_an_empty_or_foreign_capture() -> None:
    assert tcp_streams(b"") == []
    out = io.BytesIO()
    dpkt.pcap.Writer(out, linktype=dpkt.pcap.DLT_IEEE802_11)
    with pytest.raises(ValueError, match="link type 105"):
        tcp_streams(out.getvalue())


# ---- what a failure report shows (harness/runner.py) ---------------------------------------------
class CapturedTopology:
    """What the runner asks of a topology for its transcripts, from the committed captures."""

    def __init__(self, sent: list[Sent], transcripts: bool = True) -> None:
        self.transcripts = transcripts
        self.sent = {s.name: s for s in sent}
        self.capture_problems: list[str] = []
        self.nodes: dict[str, object] = {}  # no MTA logs: nothing ties an encrypted session

    def sessions(self) -> list[Session]:
        return captured()


def sent(name: str, message_id: str, sender: str, recipients: tuple[str, ...]) -> Sent:
    return Sent(name, Message(name, message_id, b"", sender, recipients), "sender", server="mrelay")


IN_SITE = sent("in-site", MESSAGE_ID, "friend@outside.test", ("taro@nix.co.jj",))
REFUSED = sent("relay-out", "<relay-out@mta-harness.test>", "spam@outside.test", ("victim@not-ours.test",))
LOST = sent("lost", "<lost@mta-harness.test>", "nobody@outside.test", ("nobody@nix.co.jj",))


def headings(text: str) -> list[str]:
    return [line.split(" at ", 1)[0] for line in text.splitlines() if line.startswith("SMTP ")]


def test_a_failure_shows_the_hops_of_the_steps_message() -> None:
    text = hop_transcripts(CapturedTopology([IN_SITE, REFUSED]), "in-site")  # type: ignore[arg-type]
    assert text.splitlines()[1:3] == ["=== SMTP transcripts ===", f"the hops of message 'in-site' {MESSAGE_ID}:"]
    assert headings(text) == [
        "SMTP sender (10.229.1.100:38866) -> mrelay (10.229.1.10:25)",
        "SMTP mrelay (10.229.1.10:40450) -> mstore (10.229.1.20:25)",
    ]
    assert "    +0.044  S: 250 2.0.0 Ok: queued as B002D315DD6" in text.splitlines()


def test_without_a_message_the_last_one_sent_and_without_hops_every_session() -> None:
    last = hop_transcripts(CapturedTopology([IN_SITE, REFUSED]))  # type: ignore[arg-type]
    assert "the hops of message 'relay-out' <relay-out@mta-harness.test>:" in last
    assert headings(last) == ["SMTP sender (10.229.1.100:38870) -> mrelay (10.229.1.10:25)"]
    every = hop_transcripts(CapturedTopology([IN_SITE, LOST]), "lost")  # type: ignore[arg-type]
    assert "no SMTP session carried message 'lost'; every SMTP session of the run (4):" in every
    assert len(headings(every)) == 4


def test_transcripts_off_add_nothing_and_details_show_every_session() -> None:
    assert hop_transcripts(CapturedTopology([IN_SITE], transcripts=False), "in-site") == ""  # type: ignore[arg-type]
    scenario = load_scenario_text(
        "networks: {lan: {subnet: 10.229.9.0/24}}\n"
        "nodes: {mx: {kind: sink, hostname: mx.example.test, networks: {lan: 10.229.9.30}}}\n",
        "t.yaml",
    )
    result = RunResult(scenario, "bookworm", transcripts=describe(captured()))
    assert "=== SMTP transcripts (every session of the run) ===" not in result.report()
    details = result.report(details=True)
    assert "=== SMTP transcripts (every session of the run) ===" in details
    assert len(headings(details)) == 4


# ---- switching it on, and the sidecar ------------------------------------------------------------
def test_the_cli_flag_and_the_capture_command() -> None:
    assert build_parser().parse_args(["run", "smoke", "--transcripts"]).transcripts is True
    assert build_parser().parse_args(["run", "smoke"]).transcripts is False
    assert build_parser().parse_args(["up", "smoke", "--transcripts"]).transcripts is True
    assert "tcpdump -i any -p -U --immediate-mode -n -s 65600 -B 16384 " in CAPTURE_SCRIPT
    assert CAPTURE_SCRIPT.endswith(" tcp")


def test_a_sidecar_is_labelled_with_the_run_but_is_no_node() -> None:
    class Target:
        name = "mh-1234abcd-relay-store-transcripts-mrelay"

    labels = {engine.LABEL_RUN: "1234abcd", engine.LABEL_SCENARIO: "relay-store-transcripts"}
    sidecar = Sidecar("mrelay", Target(), "mta-harness/capture:bookworm-x", labels)  # type: ignore[arg-type]
    assert sidecar.name == "mh-1234abcd-relay-store-transcripts-mrelay-capture"
    assert sidecar.labels == {**labels, LABEL_CAPTURE_OF: "mrelay"}
    assert engine.LABEL_NODE not in sidecar.labels  # Topology.attach finds nodes by that label
    assert (CAPTURE_IMAGE.image, CAPTURE_IMAGE.suite) == ("capture", "bookworm")
    assert (CAPTURE_IMAGE.image_dir / "Dockerfile").read_text().count("tcpdump") >= 2


# ---- encrypted hops, tied by the sending MTA's log -------------------------------------------------
def test_a_delivery_line_tells_a_handover() -> None:
    near = 1_796_320_000.0  # December 2026
    postfix = handover(
        "mrelay",
        "mstore.nix.co.jj[10.229.1.20]:25",
        "Dec 03 18:42:02 mrelay postfix/smtp[390]: 8029531CAC1: to=<taro@nix.co.jj>, relay=...",
        near,
    )
    assert postfix is not None and (postfix.node, postfix.ip, postfix.port) == ("mrelay", "10.229.1.20", 25)
    assert time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(postfix.time)) == "2026-12-03 18:42:02"
    sendmail = handover("mstore", "hostc.nix.co.jj. [10.229.1.30]", "Dec  3 18:20:20 mstore sm-mta[1]: x", near)
    assert sendmail is not None and (sendmail.ip, sendmail.port, sendmail.delay) == ("10.229.1.30", None, None)
    with_delay = handover(
        "mrelay", "m[10.229.1.20]:25", "Dec 03 18:42:02 m postfix/smtp[1]: Q: delay=0.07, x", near, 5.0
    )
    assert with_delay is not None and (with_delay.arrived, with_delay.delay) == (5.0, 0.07)
    assert handover("mrelay", "none", "Dec 03 18:42:02 mrelay postfix/smtp[390]: x", near) is None


def test_an_encrypted_session_is_a_hop_when_the_client_logged_the_handover_in_it() -> None:
    found = captured()
    tls = found[2]  # sender -> inet-mx, STARTTLS
    second = float(int(tls.start))
    line = "Dec 03 18:21:40 sender example: to=<kkk@outside.test>, status=sent"
    hops = encrypted_hops(found, [Handover("sender", "10.229.1.110", 25, second, line)])
    assert hops == [tls]
    assert describe(hops)[1] == f"  (encrypted; sender logged handing the message over in it: {line})"
    # a second session open in the same second: both are given, each says so
    twin = Session(
        tls.client, tls.server, tls.start + 0.15, [], client_node="sender", tls="starttls", end=tls.start + 0.2
    )
    both = encrypted_hops([tls, twin], [Handover("sender", "10.229.1.110", None, second, line)])
    assert both == [tls, twin]
    assert (tls.tied_by, tls.tied_among, twin.tied_among) == (line, 2, 2)
    assert describe([twin])[1] == (
        f"  (encrypted; sender logged handing the message over in one of 2 sessions open then: {line})"
    )
    # the message's arrival and the MTA's delay tell the two apart
    timed = Handover("sender", "10.229.1.110", None, second, line, arrived=tls.start - 0.01, delay=0.03)
    assert encrypted_hops([tls, twin], [timed]) == [tls] and tls.tied_among == 1
    for other in (
        Handover("mrelay", "10.229.1.110", 25, second, line),  # another node
        Handover("sender", "10.229.1.20", None, second, line),  # another server
        Handover("sender", "10.229.1.110", 587, second, line),  # another port
        Handover("sender", "10.229.1.110", None, second + 5, line),  # after the session
        Handover("sender", "10.229.1.110", None, second - 2, line),  # before it
    ):
        assert encrypted_hops(captured(), [other]) == [], other
