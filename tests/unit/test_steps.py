"""Every step against a fake topology: what it does, what it reports when it holds, and the
exact text of each way it fails. No Docker: captures, logs, queues, mailboxes, DNS answers
and command results are scripted (``fake.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake import FakeTopology, accepted_transcript

from harness.errors import ExpectationFailed
from harness.observe.queue import QueueEntry
from harness.steps import STEPS
from harness.steps.actions import (
    Blackhole,
    Disconnect,
    Flush,
    Reconnect,
    Refuse,
    ResetCaptures,
    Restore,
    Send,
    Sleep,
    SmtpAuth,
    Start,
    Stop,
    Unblackhole,
)
from harness.steps.expectations import (
    ExpectAddress,
    ExpectCaptured,
    ExpectCommand,
    ExpectDelivery,
    ExpectDns,
    ExpectLog,
    ExpectMailbox,
    ExpectNotCaptured,
    ExpectQueued,
    ExpectQueueEmpty,
    ExpectSmtp,
    RelayCheck,
)
from harness.steps.mailbox import ExpectFetched, ExpectFetchReply, Fetch
from harness.topology.fetching import Fetched, ServerReply
from harness.topology.sending import Sent, SmtpReply

QUICK = 0.3  # seconds: failing waits in these tests end quickly
KINDS_DIR = Path(__file__).parent / "kinds"  # <kind>/data/addresstest: recorded from real containers


@pytest.fixture
def topo() -> FakeTopology:
    return FakeTopology()


def fails(step: object, topo: FakeTopology) -> str:
    with pytest.raises(ExpectationFailed) as info:
        step.run(topo)  # type: ignore[attr-defined]
    return str(info.value)


def test_every_step_is_tested_here() -> None:
    tested = {
        cls.action
        for cls in (
            Send, Stop, Start, Blackhole, Unblackhole, Refuse, Restore, Disconnect, Reconnect, Flush, ResetCaptures, Sleep,
            ExpectSmtp, ExpectCaptured, ExpectNotCaptured, ExpectDelivery, ExpectQueued, ExpectQueueEmpty,
            ExpectLog, ExpectMailbox, ExpectDns, ExpectCommand, ExpectAddress, RelayCheck, Fetch, ExpectFetched,
            ExpectFetchReply,
        )
    }  # fmt: skip
    assert tested == set(STEPS.names())


def test_defaults_are_defined_once_on_the_step() -> None:
    assert ExpectCaptured(at="mx", message="m").within == 30.0
    assert ExpectNotCaptured(message="m").within == 5.0
    assert RelayCheck(from_="cl", server="pf", domain="remote.test").port == 25
    assert Send(id="m", from_="cl", to=("a@b",), server="mx").expect == "accepted"
    assert ExpectCaptured.key("within").meaning == "how long to wait for it to become true (default 30)"


# ---- send --------------------------------------------------------------------------------------
def test_send_over_smtp_passes_every_key_on(topo: FakeTopology) -> None:
    step = Send(
        id="m1",
        from_="cl",
        to=("bob@remote.test",),
        server="mx",
        port=587,
        helo="me.test",
        starttls=True,
        auth=SmtpAuth("u", "p", "LOGIN"),
        headers=(("X-A", "1"),),
    )
    detail = step.run(topo)
    [sent] = topo.sends
    assert sent["server"] == "mx" and sent["port"] == 587 and sent["helo"] == "me.test" and sent["starttls"]
    assert sent["auth"] == {"user": "u", "password": "p", "mechanism": "LOGIN"}
    assert sent["headers"] == {"X-A": "1"}
    assert detail.startswith("message 'm1' <m1.fake.") and "to server mx" in detail


def test_send_defaults_to_port_25_and_a_local_submission_has_no_server(topo: FakeTopology) -> None:
    Send(id="m1", from_="cl", to=("bob@remote.test",), server="mx").run(topo)
    Send(id="m2", from_="pf", to=("bob@remote.test",)).run(topo)
    assert topo.sends[0]["port"] == 25 and topo.sends[1]["server"] is None
    assert "(local submission)" in topo.sent["m2"].describe()


def test_send_passes_tls_and_the_client_on_and_smtps_defaults_to_port_465(topo: FakeTopology) -> None:
    Send(id="m1", from_="cl", to=("bob@remote.test",), server="mx", tls="implicit", client="swaks").run(topo)
    Send(id="m2", from_="cl", to=("bob@remote.test",), server="mx", tls="implicit", port=10465).run(topo)
    Send(id="m3", from_="cl", to=("bob@remote.test",), server="mx").run(topo)
    first, second, plain = topo.sends
    assert (first["tls"], first["client"], first["port"]) == ("implicit", "swaks", 465)
    assert second["port"] == 10465
    assert (plain["tls"], plain["client"], plain["port"]) == (None, None, 25)


DUAL_STACK = """\
networks:
  lan: {subnet: 10.201.0.0/24, subnet6: "fd42:201::/64"}
nodes:
  cl: {kind: client, hostname: cl.example.test, networks: {lan: 10.201.0.5}}
  mx: {kind: sink, hostname: mx.remote.test, networks: {lan: {ipv4: 10.201.0.30, ipv6: "fd42:201::25"}}}
"""


def test_send_over_ipv6_connects_to_the_servers_ipv6_address() -> None:
    topo = FakeTopology(DUAL_STACK)
    Send(id="m1", from_="cl", to=("bob@remote.test",), server="mx", family="ipv6").run(topo)
    Send(id="m2", from_="cl", to=("bob@remote.test",), server="mx", family="ipv4").run(topo)
    Send(id="m3", from_="cl", to=("bob@remote.test",), server="mx").run(topo)
    assert [s["server_ip"] for s in topo.sends] == ["fd42:201::25", None, None]
    assert all(s["server"] == "mx" for s in topo.sends)


def test_send_that_is_refused_fails_unless_a_rejection_is_expected(topo: FakeTopology) -> None:
    refused = [
        SmtpReply("connect", 220, "mx"),
        SmtpReply("mail", 250, "ok"),
        SmtpReply("rcpt", 554, "5.7.1 Relay access denied", "x@y"),
    ]
    topo.smtp_replies = [refused, list(refused)]
    text = fails(Send(id="m1", from_="cl", to=("x@y",), server="mx"), topo)
    assert text.startswith("the message was not accepted:\nmessage 'm1' ")
    assert "  rcpt [x@y]: 554 5.7.1 Relay access denied" in text
    Send(id="m2", from_="cl", to=("x@y",), server="mx", expect="rejected").run(topo)


def test_send_that_is_accepted_fails_when_a_rejection_is_expected(topo: FakeTopology) -> None:
    text = fails(Send(id="m1", from_="cl", to=("x@y",), server="mx", expect="rejected"), topo)
    assert text.startswith("the message was accepted, but a rejection was expected:\n")


# ---- faults and queue runs -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("step", "done", "detail"),
    [
        (Stop(node="pf"), "stop", "pf stopped"),
        (Start(node="pf"), "start", "pf started and ready"),
        (Refuse(node="pf"), "refuse", "the service of pf stopped"),
        (Blackhole(node="pf"), "blackhole", "pf answers nobody (connections to it time out)"),
        (Unblackhole(node="pf"), "unblackhole", "pf answers again"),
        (Restore(node="pf"), "restore", "the service of pf started and ready"),
        (Disconnect(node="pf", network="lan"), "disconnect lan", "pf cut off lan"),
        (Reconnect(node="pf"), "reconnect None", "pf attached to its first network again"),
        (Flush(node="pf"), "flush", "queue run of pf started"),
    ],
)
def test_node_actions_act_on_their_node(topo: FakeTopology, step: object, done: str, detail: str) -> None:
    assert step.run(topo) == detail  # type: ignore[attr-defined]
    assert topo.node("pf").done == [done]


def test_reset_captures_at_every_sink_or_one(topo: FakeTopology) -> None:
    assert ResetCaptures().run(topo) == "captures forgotten at mx, mx2"
    assert ResetCaptures(at="mx2").run(topo) == "captures forgotten at mx2"
    assert topo.node("mx").done == ["reset_captures"] and topo.node("mx2").done == ["reset_captures"] * 2


def test_sleep_sleeps() -> None:
    assert Sleep(seconds=0.01).run(FakeTopology()) == "slept 0.01 s"


# ---- expect_smtp -------------------------------------------------------------------------------
def test_expect_smtp_checks_each_reply_of_the_stage(topo: FakeTopology) -> None:
    topo.smtp_replies = [
        [
            *accepted_transcript(["a@x"])[:3],
            SmtpReply("rcpt", 250, "ok", "a@x"),
            SmtpReply("rcpt", 450, "4.2.0 greylisted", "b@x"),
        ]
    ]
    Send(id="m1", from_="cl", to=("a@x", "b@x"), server="mx", expect="any").run(topo)
    assert ExpectSmtp(message="m1", stage="rcpt", rcpt="b@x", code=450, text="greylisted").run(topo) == (
        "rcpt [b@x]: 450 4.2.0 greylisted"
    )
    assert fails(ExpectSmtp(message="m1", stage="rcpt", code=250), topo) == (
        "expected 250 at rcpt, got: rcpt [b@x]: 450 4.2.0 greylisted"
    )
    assert fails(ExpectSmtp(message="m1", stage="rcpt", rcpt="a@x", text="^accepted"), topo) == (
        "the rcpt reply does not match /^accepted/: rcpt [a@x]: 250 ok"
    )
    text = fails(ExpectSmtp(message="m1", stage="data"), topo)
    assert text.startswith("the session never reached data:\nmessage 'm1'")
    assert fails(ExpectSmtp(message="m1", stage="rcpt", rcpt="c@x"), topo).startswith(
        "the session never reached rcpt for c@x:"
    )


def test_expect_smtp_error_matches_how_a_session_without_reply_ended(topo: FakeTopology) -> None:
    topo.smtp_replies = [[]]
    Send(id="m1", from_="cl", to=("a@x",), server="mx", expect="rejected").run(topo)
    topo.sent["m1"].error = "connect: [Errno 101] Network is unreachable"
    assert ExpectSmtp(message="m1", stage="connect", error="Network is unreachable").run(topo) == (
        "connect failed: connect: [Errno 101] Network is unreachable"
    )
    assert fails(ExpectSmtp(message="m1", stage="connect", error="timed out"), topo).startswith(
        "the session's error does not match /timed out/:\nmessage 'm1'"
    )
    topo.smtp_replies = [accepted_transcript(["a@x"])]
    Send(id="m2", from_="cl", to=("a@x",), server="mx").run(topo)
    assert fails(ExpectSmtp(message="m2", stage="connect", error="unreachable"), topo).startswith(
        "expected the session to fail at connect with an error matching /unreachable/, but it did not:\n"
    )


# ---- expect_captured ---------------------------------------------------------------------------
@pytest.fixture
def sent(topo: FakeTopology) -> FakeTopology:
    Send(id="m1", from_="pf", to=("bob@remote.test",), mail_from="alice@example.test").run(topo)
    return topo


def test_expect_captured_holds_for_one_matching_copy(sent: FakeTopology) -> None:
    capture = sent.capture("m1", peer="10.201.0.10", auth_user="relay", auth_mechanism="PLAIN", tls=True)
    sent.node("mx").script_captures([], [capture])
    step = ExpectCaptured(
        at="mx",
        message="m1",
        rcpt=("bob@remote.test",),
        mail_from="alice@example.test",
        peer="pf",
        auth_user="relay",
        auth_mechanism="PLAIN",
        tls=True,
        settle=0.1,
    )
    assert step.run(sent) == "captured at mx from pf <alice@example.test> -> bob@remote.test auth=relay/PLAIN tls"


def test_expect_captured_fails_when_nothing_arrives(sent: FakeTopology) -> None:
    assert fails(ExpectCaptured(at="mx", message="m1", within=QUICK), sent) == (
        "mx captured 0 of 1 expected cop(ies) of 'm1' within 0 s"
    )


def test_expect_captured_sees_a_duplicate_that_arrives_after_the_first_copy(sent: FakeTopology) -> None:
    capture = sent.capture("m1")
    sent.node("mx").script_captures([capture], [capture], [capture, capture])
    assert fails(ExpectCaptured(at="mx", message="m1", settle=1.0), sent) == (
        "mx captured 'm1' 2 times, expected 1 (the last within 1 s of the expected ones)"
    )


def test_expect_captured_count_means_exactly(sent: FakeTopology) -> None:
    capture = sent.capture("m1")
    sent.node("mx").script_captures([capture, capture])
    assert "captured at mx" in ExpectCaptured(at="mx", message="m1", count=2, settle=0.1).run(sent)
    sent.node("mx").script_captures([capture, capture, capture])
    assert fails(ExpectCaptured(at="mx", message="m1", count=2, settle=0.1), sent).startswith(
        "mx captured 'm1' 3 times, expected 2"
    )


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("rcpt", ("carol@remote.test",), "recipients ['bob@remote.test'] != ['carol@remote.test']"),
        ("mail_from", "eve@example.test", "sender <alice@example.test> != <eve@example.test>"),
        ("peer", "sm", "peer was 10.201.0.10 (pf), not sm"),
        ("auth_user", "relay", "authenticated as None, not 'relay'"),
        ("auth_mechanism", "LOGIN", "mechanism None, not 'LOGIN'"),
        ("tls", True, "the session was not encrypted"),
        ("tls_mode", "implicit", "TLS mode none, not implicit"),
    ],
)
def test_expect_captured_names_what_differs(sent: FakeTopology, key: str, value: object, problem: str) -> None:
    sent.node("mx").script_captures([sent.capture("m1")])
    step = ExpectCaptured(at="mx", message="m1", settle=0, **{key: value})  # type: ignore[arg-type]
    assert fails(step, sent) == f"mx captured 'm1', but: {problem}"


@pytest.mark.parametrize(
    ("fields", "mode"),
    [
        ({"tls": True, "tls_mode": "implicit", "tls_version": "TLSv1.3"}, "implicit"),
        ({"tls": True, "tls_mode": "starttls"}, "starttls"),
        ({"tls": True}, "starttls"),  # a capture from a sink that knew only STARTTLS
        ({"tls": False}, "none"),
    ],
)
def test_expect_captured_checks_the_tls_mode(sent: FakeTopology, fields: dict[str, object], mode: str) -> None:
    sent.node("mx").script_captures([sent.capture("m1", **fields)])
    assert "captured at mx" in ExpectCaptured(at="mx", message="m1", settle=0, tls_mode=mode).run(sent)
    other = next(m for m in ("none", "starttls", "implicit") if m != mode)
    step = ExpectCaptured(at="mx", message="m1", settle=0, tls_mode=other)
    assert fails(step, sent) == f"mx captured 'm1', but: TLS mode {mode}, not {other}"


def test_expect_captured_names_the_tls_mode_and_version(sent: FakeTopology) -> None:
    capture = sent.capture("m1", tls=True, tls_mode="implicit", tls_version="TLSv1.3")
    sent.node("mx").script_captures([capture])
    assert ExpectCaptured(at="mx", message="m1", settle=0, tls=True).run(sent).endswith(" tls=implicit TLSv1.3")


def verdicts(spf: str = "none", dkim: list[dict[str, str]] | None = None, dmarc: str = "none") -> dict[str, Any]:
    """The sink's ``authentication`` record of a capture (harness/agent/authcheck.py)."""
    signatures = dkim or []
    return {
        "spf": {"result": spf, "reason": f"spf reason {spf}", "domain": "example.test", "identity": "mailfrom"},
        "dkim": signatures,
        "dmarc": {
            "result": dmarc,
            "reason": f"dmarc reason {dmarc}",
            "from_domain": "example.test",
            "policy": "reject",
        },
        "authentication_results": f"Authentication-Results: mx; spf={spf} smtp.mailfrom=example.test; dmarc={dmarc}",
    }


def signature(domain: str, result: str, reason: str = "") -> dict[str, str]:
    return {"domain": domain, "selector": "s1", "identity": "@" + domain, "result": result, "reason": reason or result}


def test_expect_captured_checks_spf_and_dmarc_verdicts_with_their_reasons(sent: FakeTopology) -> None:
    sent.node("mx").script_captures([sent.capture("m1", authentication=verdicts(spf="pass", dmarc="fail"))])
    step = ExpectCaptured(at="mx", message="m1", settle=0, spf="pass", spf_reason="reason pass", dmarc="fail")
    assert step.run(sent).endswith("; Authentication-Results: mx; spf=pass smtp.mailfrom=example.test; dmarc=fail")
    header = "Authentication-Results: mx; spf=pass smtp.mailfrom=example.test; dmarc=fail"
    assert fails(ExpectCaptured(at="mx", message="m1", settle=0, spf="none"), sent) == (
        f"mx captured 'm1', but: SPF pass, not none: spf reason pass; {header}"
    )
    assert fails(ExpectCaptured(at="mx", message="m1", settle=0, dmarc="fail", dmarc_reason="aligned"), sent) == (
        f"mx captured 'm1', but: the DMARC reason 'dmarc reason fail' does not match /aligned/; {header}"
    )
    step = ExpectCaptured(at="mx", message="m1", settle=0, authentication_results="spf=none")
    assert fails(step, sent) == f"mx captured 'm1', but: {header!r} does not match /spf=none/; {header}"


def test_expect_captured_dkim_is_the_first_passing_signature_or_the_named_domains(sent: FakeTopology) -> None:
    signatures = [signature("relay.test", "pass"), signature("example.test", "fail", "body hash mismatch")]
    sent.node("mx").script_captures([sent.capture("m1", authentication=verdicts(dkim=signatures))])
    assert "captured at mx" in ExpectCaptured(at="mx", message="m1", settle=0, dkim="pass").run(sent)
    step = ExpectCaptured(
        at="mx", message="m1", settle=0, dkim="fail", dkim_domain="example.test", dkim_reason="body hash"
    )
    assert "captured at mx" in step.run(sent)
    assert fails(
        ExpectCaptured(at="mx", message="m1", settle=0, dkim="pass", dkim_domain="example.test"), sent
    ).startswith("mx captured 'm1', but: DKIM fail (d=example.test), not pass: body hash mismatch; ")
    assert fails(
        ExpectCaptured(at="mx", message="m1", settle=0, dkim="pass", dkim_domain="other.test"), sent
    ).startswith(
        "mx captured 'm1', but: no DKIM signature of other.test (signatures: d=relay.test s=s1, d=example.test s=s1); "
    )


def test_expect_captured_dkim_none_without_a_signature(sent: FakeTopology) -> None:
    sent.node("mx").script_captures([sent.capture("m1", authentication=verdicts())])
    assert "captured at mx" in ExpectCaptured(at="mx", message="m1", settle=0, dkim="none").run(sent)
    assert fails(ExpectCaptured(at="mx", message="m1", settle=0, dkim="pass"), sent).startswith(
        "mx captured 'm1', but: DKIM none, not pass: no DKIM signature; "
    )


@pytest.mark.parametrize(
    ("authentication", "why"),
    [
        (None, "the sink was not asked to (an older sink)"),
        ({"error": "not checked: No module named 'spf'"}, "not checked: No module named 'spf'"),
    ],
)
def test_expect_captured_verdicts_of_a_sink_that_checked_nothing_fail(
    sent: FakeTopology, authentication: dict[str, str] | None, why: str
) -> None:
    sent.node("mx").script_captures([sent.capture("m1", authentication=authentication)])
    assert fails(ExpectCaptured(at="mx", message="m1", settle=0, spf="none"), sent) == (
        f"mx captured 'm1', but: the sink has no SPF/DKIM/DMARC verdicts: {why}"
    )


# ---- expect_not_captured ---------------------------------------------------------------------
def test_expect_not_captured_watches_every_sink(sent: FakeTopology) -> None:
    assert ExpectNotCaptured(message="m1", within=QUICK).run(sent) == "no capture at mx, mx2 in 0 s"
    sent.node("mx2").script_captures([], [sent.capture("m1")])
    assert fails(ExpectNotCaptured(message="m1", within=2), sent) == (
        "'m1' was captured at mx2, but nothing was expected"
    )
    assert ExpectNotCaptured(message="m1", at="mx", within=QUICK).run(sent) == "no capture at mx in 0 s"


# ---- expect_delivery ---------------------------------------------------------------------------
POSTFIX_LOG = """\
Nov 22 21:42:41 pf postfix/pickup[100]: AA6B8196C8D: uid=0 from=<alice@example.test>
Nov 22 21:42:41 pf postfix/cleanup[101]: AA6B8196C8D: message-id={mid}
Nov 22 21:42:46 pf postfix/smtp[102]: AA6B8196C8D: to=<bob@remote.test>, relay=none, delay=5, dsn=4.4.1, status=deferred (connect to mx.remote.test[10.202.0.30]:25: Connection timed out)
"""
POSTFIX_SENT = "Nov 22 21:42:56 pf postfix/smtp[102]: AA6B8196C8D: to=<bob@remote.test>, relay=mx.remote.test[10.202.0.30]:25, delay=15, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n"


def test_expect_delivery_waits_for_a_matching_attempt(sent: FakeTopology) -> None:
    log = POSTFIX_LOG.format(mid=sent.message_id("m1"))
    sent.node("pf").script_log(log, log + POSTFIX_SENT)
    step = ExpectDelivery(
        at="pf", message="m1", status="sent", rcpt="bob@remote.test", relay=r"mx\.remote", dsn="2.0.0", reason="Ok"
    )
    assert step.run(sent) == POSTFIX_SENT.strip()
    deferred = ExpectDelivery(at="pf", message="m1", status="deferred", reason="timed out").run(sent)
    assert deferred.endswith("status=deferred (connect to mx.remote.test[10.202.0.30]:25: Connection timed out)")


def test_expect_delivery_failure_shows_what_was_seen(sent: FakeTopology) -> None:
    log = POSTFIX_LOG.format(mid=sent.message_id("m1"))
    sent.node("pf").script_log(log)
    text = fails(ExpectDelivery(at="pf", message="m1", status="bounced", dsn="5", within=QUICK), sent)
    assert text.startswith(
        "no 'bounced' delivery of 'm1' at pf matching dsn='5'; seen:\n  Nov 22 21:42:46 pf postfix/smtp"
    )
    sent.node("pf").script_log("")
    assert fails(ExpectDelivery(at="pf", message="m1", status="sent", within=QUICK), sent) == (
        "no 'sent' delivery of 'm1' at pf matching (any); seen:\n  (no delivery attempt of it in the log)"
    )


# ---- expect_queued / expect_queue_empty --------------------------------------------------------
def test_expect_queued_and_its_absence(sent: FakeTopology) -> None:
    log = POSTFIX_LOG.format(mid=sent.message_id("m1"))
    entry = QueueEntry("AA6B8196C8D", "alice@example.test", ("bob@remote.test",), "connect to mx: Connection timed out")
    other = QueueEntry("BB6B8196C8D", "x@y", ("z@w",), "later")
    pf = sent.node("pf").script_log(log).script_queue([other], [other, entry])
    assert ExpectQueued(at="pf", message="m1", reason="timed out").run(sent) == (
        "AA6B8196C8D: connect to mx: Connection timed out"
    )
    assert fails(ExpectQueued(at="pf", message="m1", absent=True), sent) == (
        "'m1' is queued at pf: AA6B8196C8D: connect to mx: Connection timed out"
    )
    pf.script_queue([other])
    assert ExpectQueued(at="pf", message="m1", absent=True).run(sent) == "'m1' not queued at pf"
    assert fails(ExpectQueued(at="pf", message="m1", reason="refused", within=QUICK), sent) == (
        "'m1' is not queued at pf with a reason matching /refused/; queue:\nBB6B8196C8D x@y later"
    )


def test_expect_queue_empty(sent: FakeTopology) -> None:
    entry = QueueEntry("AA6B8196C8D", "a@b", ("c@d",), "deferred")
    pf = sent.node("pf").script_queue([entry], [])
    assert ExpectQueueEmpty(at="pf").run(sent) == "queue of pf empty"
    pf.script_queue([entry])
    assert (
        fails(ExpectQueueEmpty(at="pf", within=QUICK), sent) == "the queue of pf is not empty: AA6B8196C8D (deferred)"
    )


# ---- expect_log --------------------------------------------------------------------------------
def test_expect_log_any_line_or_the_messages_lines(sent: FakeTopology) -> None:
    log = POSTFIX_LOG.format(mid=sent.message_id("m1")) + "Nov 22 21:43:00 pf postfix/smtpd[1]: warning: something\n"
    sent.node("pf").script_log(log)
    assert ExpectLog(at="pf", match="warning: something").run(sent).endswith("warning: something")
    assert ExpectLog(at="pf", match="status=deferred", message="m1").run(sent).endswith("Connection timed out)")
    assert fails(ExpectLog(at="pf", match="warning", message="m1", within=QUICK), sent) == (
        "no line of pf's log matches /warning/ within 0 s"
    )
    assert ExpectLog(at="pf", match="status=sent", absent=True).run(sent) == "no line of pf's log matches"
    text = fails(ExpectLog(at="pf", match="deferred", absent=True), sent)
    assert text.startswith("pf's log has lines matching /deferred/:\nNov 22 21:42:46 pf postfix/smtp")


# ---- expect_mailbox ----------------------------------------------------------------------------
def test_expect_mailbox_counts_copies(sent: FakeTopology) -> None:
    copy = f"From a\nMessage-ID: {sent.message_id('m1')}\n\nbody\n"
    pf = sent.node("pf").script_mailbox("alice", "", copy)
    assert ExpectMailbox(at="pf", user="alice", message="m1").run(sent) == "1 copy in the mailbox of alice at pf"
    assert fails(ExpectMailbox(at="pf", user="alice", message="m1", absent=True), sent) == (
        "the mailbox of alice at pf holds 'm1'"
    )
    assert fails(ExpectMailbox(at="pf", user="alice", message="m1", count=2, within=QUICK), sent) == (
        "the mailbox of alice at pf does not hold 'm1'"
    )
    pf.script_mailbox("alice", copy * 3)
    assert fails(ExpectMailbox(at="pf", user="alice", message="m1", count=2), sent) == (
        "the mailbox of alice at pf holds 3 copies of 'm1', expected 2"
    )
    pf.script_mailbox("alice", "")
    assert ExpectMailbox(at="pf", user="alice", message="m1", absent=True).run(sent) == (
        "not in the mailbox of alice at pf"
    )


# ---- expect_dns ------------------------------------------------------------------------------
def test_expect_dns_rcode_and_answer(topo: FakeTopology) -> None:
    topo.dns_answers[("remote.test", "MX")] = {"rcode": "NOERROR", "answer": ["10 mx.remote.test."]}
    assert ExpectDns(name="remote.test", rtype="MX", answer=("10 mx.remote.test.",)).run(topo) == (
        "NOERROR ['10 mx.remote.test.']"
    )
    assert fails(ExpectDns(name="remote.test", rtype="MX", answer=("20 mx2.remote.test.",)), topo) == (
        "DNS MX remote.test: answer ['10 mx.remote.test.'], expected ['20 mx2.remote.test.']"
    )
    assert fails(ExpectDns(name="gone.test"), topo) == "DNS A gone.test: NXDOMAIN [], expected NOERROR"
    assert ExpectDns(name="gone.test", rcode="NXDOMAIN").run(topo) == "NXDOMAIN []"


# ---- expect_command --------------------------------------------------------------------------
def test_expect_command_exit_code_and_output(topo: FakeTopology) -> None:
    pf = topo.node("pf").script_command("postconf -h relayhost", (0, "[relay.test]:587\n"))
    assert ExpectCommand(at="pf", run_="postconf -h relayhost", match=r"\[relay\.test\]").run(topo) == (
        "$ postconf -h relayhost\n[relay.test]:587"
    )
    assert fails(ExpectCommand(at="pf", run_="postconf -h relayhost", match="587", absent=True), topo) == (
        "'postconf -h relayhost' at pf: expected exit 0 and output not matching /587/, got exit 0:\n[relay.test]:587"
    )
    pf.script_command("false", (1, ""))
    assert ExpectCommand(at="pf", run_="false", code=1).run(topo) == "$ false\n"
    assert fails(ExpectCommand(at="pf", run_="nothing"), topo) == (
        "'nothing' at pf: expected exit 0, got exit 127:\nsh: 1: nothing: not found"
    )
    pf.script_command("late", (1, "no"), (0, "yes"))
    assert ExpectCommand(at="pf", run_="late", match="yes", within=2).run(topo) == "$ late\nyes"


# ---- relay_check -----------------------------------------------------------------------------
def refused_transcript() -> list[SmtpReply]:
    return [
        SmtpReply("connect", 220, "pf"),
        SmtpReply("mail", 250, "ok"),
        SmtpReply("rcpt", 554, "5.7.1 Relay access denied"),
    ]


# ---- expect_address --------------------------------------------------------------------------
def recorded(name: str) -> str:
    kind = name.split("-", 1)[0]
    return (KINDS_DIR / kind / "data" / "addresstest" / f"bookworm-{name}.txt").read_text()


def test_expect_address_passes_on_sendmails_triple(topo: FakeTopology) -> None:
    topo.node("sm").script_address_test("taro@nix.co.jj", recorded("sendmail-bt-hostg-taro"))
    step = ExpectAddress(at="sm", address="taro@nix.co.jj", rulesets="3,0", mailer="esmtp", host="mstore.nix.co.jj")
    detail = step.run(topo)
    assert detail == (
        "echo '3,0 taro@nix.co.jj' | sendmail -bt: $# esmtp $@ mstore . nix . co . jj $: taro < @ nix . co . jj >"
    )
    assert topo.node("sm").address_tests == [("taro@nix.co.jj", "3,0")]
    # the user is compared without the trace's spaces, in full
    ExpectAddress(at="sm", address="taro@nix.co.jj", user=r"taro<@nix\.co\.jj>").run(topo)
    assert topo.node("sm").address_tests[-1] == ("taro@nix.co.jj", None)  # the kind's default: 3,0


def test_expect_address_fails_naming_each_field_with_the_whole_transcript(topo: FakeTopology) -> None:
    trace = recorded("sendmail-bt-merged-taro")
    topo.node("sm").script_address_test("taro@nix.co.jj", trace)
    step = ExpectAddress(
        at="sm", address="taro@nix.co.jj", mailer="esmtp", host="mstore.nix.co.jj", user="taro<@nix.co.jj>"
    )
    assert fails(step, topo) == (
        "sm: taro@nix.co.jj -> host 'nix.co.jj.' does not match /mstore.nix.co.jj/; "
        "user 'taro<@nix.co.jj.>' does not match /taro<@nix.co.jj>/:\n"
        "$ echo '3,0 taro@nix.co.jj' | sendmail -bt\n" + trace.strip()
    )
    # a regex matches the whole field: "smtp" is not "esmtp"
    assert fails(ExpectAddress(at="sm", address="taro@nix.co.jj", mailer="smtp"), topo).startswith(
        "sm: taro@nix.co.jj -> mailer 'esmtp' does not match /smtp/:\n$ echo"
    )


def test_expect_address_fails_when_the_rulesets_return_no_mailer(topo: FakeTopology) -> None:
    for name, result in (("ruleset-3", "taro < @ nix . co . jj . >"), ("unknown-ruleset", "Undefined ruleset NoSuch")):
        trace = recorded(f"sendmail-bt-{name}")
        topo.node("sm").script_address_test("taro@nix.co.jj", trace)
        assert fails(ExpectAddress(at="sm", address="taro@nix.co.jj", rulesets="3", mailer="esmtp"), topo) == (
            f"sm: the address test resolved taro@nix.co.jj to no mailer, only '{result}':\n"
            "$ echo '3 taro@nix.co.jj' | sendmail -bt\n" + trace.strip()
        )


def test_expect_address_fails_when_the_test_says_nothing(topo: FakeTopology) -> None:
    topo.node("sm").script_address_test("taro@nix.co.jj", "")
    assert fails(ExpectAddress(at="sm", address="taro@nix.co.jj", mailer="esmtp"), topo) == (
        "sm: the address test of taro@nix.co.jj gave no result:\n$ echo '3,0 taro@nix.co.jj' | sendmail -bt\n"
    )


def test_expect_address_on_postfix_reads_the_verdict_of_sendmail_bv(topo: FakeTopology) -> None:
    text = recorded("postfix-bv-root")
    topo.node("pf").script_address_test("root", text)
    detail = ExpectAddress(at="pf", address="root", mailer="local", host="local", user="root@pfrelay.nix.co.jj").run(
        topo
    )
    verdict = next(line for line in text.splitlines() if "status=deliverable" in line)
    assert detail == f"sendmail -bv root: {verdict}"
    # the transcript: what the command said, then the probe's own log lines (not the report's)
    text = recorded("postfix-bv-nobody")
    topo.node("pf").script_address_test("nobody@nowhere.invalid", text)
    lines = text.splitlines()
    qid = lines[1].split(": ")[1]  # the probe's queue id, from pickup's line
    message = fails(ExpectAddress(at="pf", address="nobody@nowhere.invalid", host="mx.nowhere.invalid"), topo)
    assert message == (
        "pf: nobody@nowhere.invalid -> host 'none' does not match /mx.nowhere.invalid/:\n"
        "$ sendmail -bv nobody@nowhere.invalid\n"
        + "\n".join([lines[0], *(line for line in lines[1:] if f": {qid}: " in line)])
    )
    assert "status=undeliverable" in message and "delivered to mailbox" not in message


def test_expect_address_fails_on_a_field_the_test_does_not_give(topo: FakeTopology) -> None:
    topo.node("sm").script_address_test("bob", "> parse            returns: $# local $: bob\n> ")
    assert fails(ExpectAddress(at="sm", address="bob", host="sm"), topo) == (
        "sm: bob -> no host, expected /sm/:\n$ echo '3,0 bob' | sendmail -bt\n> parse            returns: $# local $: bob\n>"
    )


def test_relay_check_closed_when_every_form_is_refused(topo: FakeTopology) -> None:
    topo.smtp_replies = [refused_transcript() for _ in range(16)]
    detail = RelayCheck(from_="cl", server="pf", domain="remote.test", within=QUICK).run(topo)
    assert detail.startswith("All tests performed, no relays accepted (pf; 0 form(s) accepted at DATA)")
    assert len(topo.sends) == 16 and all(s["server"] == "pf" for s in topo.sends)


def first_form_accepted(topo: FakeTopology, then: Callable[[Sent], None]) -> None:
    """The server accepts the battery's first form only; ``then`` scripts what became of it."""
    topo.smtp_replies = [accepted_transcript(["x"])] + [refused_transcript() for _ in range(15)]
    original = topo.send

    def send(name: str, source: str, to: list[str], **options: Any) -> Sent:
        sent = original(name, source, to, **options)
        if name.endswith("-01"):
            then(sent)
        return sent

    topo.send = send  # type: ignore[method-assign]


def test_relay_check_open_when_a_form_reaches_a_sink(topo: FakeTopology) -> None:
    first_form_accepted(topo, lambda sent: topo.node("mx").script_captures([topo.capture(sent.name)]))
    text = fails(RelayCheck(from_="cl", server="pf", domain="remote.test", within=2), topo)
    assert text.startswith("expected the relay to be closed:\npf is an OPEN RELAY: 1/16 forms")
    assert " 1. MAIL FROM:<> RCPT TO:<relaytest@remote.test>  rcpt 250  data 250  RELAYED to mx" in text


def test_relay_check_counts_an_accepted_form_queued_at_the_server_as_open(topo: FakeTopology) -> None:
    def queued(sent: Sent) -> None:
        pf = topo.node("pf")
        pf.script_log(POSTFIX_LOG.format(mid=sent.message.message_id).rsplit("\n", 2)[0] + "\n")
        pf.script_queue([QueueEntry("AA6B8196C8D", "", ("relaytest@remote.test",), "deferred")])

    first_form_accepted(topo, queued)
    text = fails(RelayCheck(from_="cl", server="pf", domain="remote.test", within=QUICK), topo)
    assert "accepted and QUEUED at pf" in text


def test_relay_check_closed_when_an_accepted_form_bounced(topo: FakeTopology) -> None:
    def bounced(sent: Sent) -> None:
        topo.node("pf").script_log(
            f"Nov 22 21:42:41 pf postfix/cleanup[101]: AA6B8196C8D: message-id={sent.message.message_id}\n"
            "Nov 22 21:42:41 pf postfix/local[103]: AA6B8196C8D: to=<relaytest@pf.example.test>, relay=local, "
            'delay=0, dsn=5.1.1, status=bounced (unknown user: "relaytest")\n'
        )

    first_form_accepted(topo, bounced)
    detail = RelayCheck(from_="cl", server="pf", domain="remote.test", within=2).run(topo)
    assert detail.startswith(
        "All tests performed, no relays accepted (pf; 1 form(s) accepted at DATA, all 1 bounced without delivery)"
    )
    assert 'accepted, then bounced at pf: unknown user: "relaytest"' in detail


def test_relay_check_counts_an_accepted_form_seen_nowhere_as_open(topo: FakeTopology) -> None:
    first_form_accepted(topo, lambda sent: None)
    text = fails(RelayCheck(from_="cl", server="pf", domain="remote.test", within=QUICK), topo)
    assert "its fate was not seen within the time given (counted as open)" in text


def test_relay_check_fails_an_expected_open_relay_that_is_closed(topo: FakeTopology) -> None:
    topo.smtp_replies = [refused_transcript() for _ in range(16)]
    text = fails(RelayCheck(from_="cl", server="pf", domain="remote.test", within=QUICK, expect="open"), topo)
    assert text.startswith("expected the relay to be open:\nAll tests performed")


# ---- fetch -------------------------------------------------------------------------------------
def test_fetch_passes_every_key_on_and_reports_the_session(sent: FakeTopology) -> None:
    sent.fetch_results = [sent.mailbox(sent.delivered("m1"))]
    step = Fetch(
        id="f1", from_="cl", server="pf", protocol="pop3", user="alice", password="secret", port=1110, delete=True
    )
    assert step.run(sent) == (
        "fetch 'f1' by POP3 from cl at pf as alice\n"
        "  connect: +OK Dovecot (Debian) ready.\n"
        "  user: +OK\n"
        "  login: +OK Logged in.\n"
        "  count: +OK 1 messages:\n"
        "  retrieve: +OK 500 octets\n"
        "  quit: +OK Logging out.\n"
        "  1 message(s) in the mailbox, 1 retrieved"
    )
    assert sent.fetches == [
        {
            "name": "f1",
            "source": "cl",
            "server": "pf",
            "protocol": "pop3",
            "user": "alice",
            "password": "secret",
            "port": 1110,
            "delete": True,
        }
    ]
    assert sent.fetched["f1"].outcome == "ok"


def test_fetch_defaults_to_the_protocols_port_and_keeps_the_messages(topo: FakeTopology) -> None:
    Fetch(id="f1", from_="cl", server="pf", protocol="imap", user="alice", password="secret").run(topo)
    assert (topo.fetches[0]["port"], topo.fetches[0]["delete"]) == (None, False)
    assert Fetch.key("port").meaning == "the port (default 110 for pop3, 143 for imap)"


def test_fetch_fails_when_it_comes_to_another_outcome(topo: FakeTopology) -> None:
    topo.fetch_results = [topo.refused_login()]
    assert fails(Fetch(id="f1", from_="cl", server="pf", protocol="pop3", user="alice", password="x"), topo) == (
        "expected ok, the fetch came to auth_failed:\n"
        "fetch 'f1' by POP3 from cl at pf as alice\n"
        "  connect: +OK Dovecot (Debian) ready.\n"
        "  user: +OK\n"
        "  login: -ERR [AUTH] Authentication failed."
    )
    topo.fetch_results = [topo.mailbox()]
    text = fails(
        Fetch(id="f2", from_="cl", server="pf", protocol="pop3", user="alice", password="x", expect="auth_failed"), topo
    )
    assert text.startswith("expected auth_failed, the fetch came to ok:\n")
    topo.fetch_results = [topo.mailbox()]
    text = fails(
        Fetch(id="f3", from_="cl", server="sm", protocol="pop3", user="alice", password="x", expect="refused"), topo
    )
    assert text.startswith("expected refused, the fetch came to ok:\n")


def test_fetch_that_expects_a_refusal_holds_on_a_refused_login_or_connection(topo: FakeTopology) -> None:
    topo.fetch_results = [topo.refused_login(), topo.refused_connection()]
    Fetch(id="f1", from_="cl", server="pf", protocol="pop3", user="alice", password="x", expect="auth_failed").run(topo)
    text = Fetch(id="f2", from_="cl", server="sm", protocol="pop3", user="a", password="x", expect="refused").run(topo)
    assert text == (
        "fetch 'f2' by POP3 from cl at sm as a\n"
        "  connect: ConnectionRefusedError: [Errno 111] Connection refused\n"
        "  error: connect: ConnectionRefusedError: [Errno 111] Connection refused"
    )


@pytest.mark.parametrize(
    ("fetched", "outcome"),
    [
        (
            Fetched("f", "cl", "pf", "pop3", "a", error="connect: TimeoutError: timed out", error_type="TimeoutError"),
            "error",
        ),
        (
            Fetched(
                "f", "cl", "pf", "pop3", "a", [ServerReply("connect", True, "+OK")], error="session: error_proto: x"
            ),
            "error",
        ),
        (Fetched("f", "cl", "pf", "imap", "a", [ServerReply("count", False, "NO [SERVERBUG]")]), "error"),
        (Fetched("f", "cl", "pf", "imap", "a", [ServerReply("login", True, "OK")], count=0), "ok"),
    ],
)
def test_a_fetch_that_timed_out_or_broke_off_is_neither_ok_nor_refused(fetched: Fetched, outcome: str) -> None:
    assert fetched.outcome == outcome


# ---- expect_fetched ----------------------------------------------------------------------------
@pytest.fixture
def fetched(sent: FakeTopology) -> FakeTopology:
    Send(id="m2", from_="pf", to=("alice@example.test",)).run(sent)
    sent.fetch_results = [sent.mailbox(sent.delivered("m1"), protocol="imap")]
    Fetch(id="f1", from_="cl", server="pf", protocol="imap", user="alice", password="secret").run(sent)
    return sent


def test_expect_fetched_finds_the_message_byte_for_byte_and_the_count(fetched: FakeTopology) -> None:
    assert ExpectFetched(fetch="f1", message="m1", count=1).run(fetched) == (
        "'m1' read from the mailbox of alice at pf by IMAP, its body (30 bytes) as sent; 1 message(s) there"
    )
    assert ExpectFetched(fetch="f1", count=1).run(fetched) == "the mailbox of alice at pf held 1 message(s)"


def test_expect_fetched_count_means_exactly(fetched: FakeTopology) -> None:
    assert (
        fails(ExpectFetched(fetch="f1", count=2), fetched) == "the mailbox of alice at pf held 1 message(s), expected 2"
    )


def test_expect_fetched_names_what_was_read_when_the_message_is_not_there(fetched: FakeTopology) -> None:
    assert fails(ExpectFetched(fetch="f1", message="m2"), fetched) == (
        f"'m2' {fetched.message_id('m2')} is not among what fetch 'f1' read from the mailbox of alice at pf: "
        f"{fetched.message_id('m1')}"
    )
    fetched.fetch_results = [fetched.mailbox()]
    Fetch(id="empty", from_="cl", server="pf", protocol="pop3", user="alice", password="secret").run(fetched)
    assert fails(ExpectFetched(fetch="empty", message="m1"), fetched).endswith(": no messages")


def test_expect_fetched_compares_the_body_byte_for_byte(fetched: FakeTopology) -> None:
    changed = fetched.delivered("m1").replace(b"Test message m1", b"Test message M1")
    fetched.fetch_results = [fetched.mailbox(changed)]
    Fetch(id="f2", from_="cl", server="pf", protocol="pop3", user="alice", password="secret").run(fetched)
    assert fails(ExpectFetched(fetch="f2", message="m1"), fetched) == (
        "the body of 'm1' fetched from the mailbox of alice at pf differs from what was sent (30 bytes, sent 30); "
        "from byte 13: fetched b'M1 of run fake.\\r\\n', sent b'm1 of run fake.\\r\\n'"
    )
    truncated = fetched.delivered("m1")[:-2]
    fetched.fetch_results = [fetched.mailbox(truncated)]
    Fetch(id="f3", from_="cl", server="pf", protocol="pop3", user="alice", password="secret").run(fetched)
    assert fails(ExpectFetched(fetch="f3", message="m1"), fetched).endswith(
        "(28 bytes, sent 30); from byte 28: fetched b'', sent b'\\r\\n'"
    )


def test_expect_fetched_needs_a_fetch_that_read_the_mailbox(fetched: FakeTopology) -> None:
    fetched.fetch_results = [fetched.refused_login()]
    Fetch(id="bad", from_="cl", server="pf", protocol="pop3", user="alice", password="x", expect="auth_failed").run(
        fetched
    )
    assert fails(ExpectFetched(fetch="bad", count=0), fetched).startswith(
        "fetch 'bad' did not read the mailbox (auth_failed):\nfetch 'bad' by POP3 from cl at pf as alice\n"
    )


# ---- expect_fetch_reply ------------------------------------------------------------------------
def test_expect_fetch_reply_checks_each_reply_of_the_stage(fetched: FakeTopology) -> None:
    assert ExpectFetchReply(fetch="f1", stage="login", ok=True, text="^OK .*Logged in$").run(fetched) == (
        "login: OK [CAPABILITY IMAP4rev1] Logged in"
    )
    assert ExpectFetchReply(fetch="f1", stage="retrieve").run(fetched) == "retrieve: OK 1"
    assert fails(ExpectFetchReply(fetch="f1", stage="login", ok=False), fetched) == (
        "expected a refusal at login, got: login: OK [CAPABILITY IMAP4rev1] Logged in"
    )
    assert fails(ExpectFetchReply(fetch="f1", stage="connect", text="Courier"), fetched) == (
        "the connect reply does not match /Courier/: connect: * OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready."
    )
    assert fails(ExpectFetchReply(fetch="f1", stage="delete"), fetched).startswith(
        "the session never reached delete:\nfetch 'f1' by IMAP from cl at pf as alice\n"
    )
    fetched.fetch_results = [fetched.refused_login()]
    Fetch(id="bad", from_="cl", server="pf", protocol="pop3", user="alice", password="x", expect="auth_failed").run(
        fetched
    )
    assert fails(ExpectFetchReply(fetch="bad", stage="login", ok=True), fetched) == (
        "expected success at login, got: login: -ERR [AUTH] Authentication failed."
    )


# ---- the runner ------------------------------------------------------------------------------
def test_the_runner_reports_where_the_time_went() -> None:
    from harness.runner import DONE, PASSED, RunResult, StepResult
    from harness.scenario.loader import load_scenario_text

    scenario = load_scenario_text(
        "networks: {lan: {subnet: 10.201.0.0/24}}\n"
        "nodes: {pf: {kind: postfix, hostname: pf.example.test, networks: {lan: 10.201.0.10}}}\n"
        "steps:\n  - sleep: {seconds: 3}\n  - expect_queue_empty: {at: pf}\n",
        "timed.yaml",
    )
    result = RunResult(scenario, "bookworm", timings={"up": 2.51, "down": 0.4})
    result.steps = [StepResult(0, scenario.steps[0], DONE, "", 3.0), StepResult(1, scenario.steps[1], PASSED, "", 0.2)]
    text = result.report(details=True)
    assert "time: up 2.5 s, steps 3.2 s, down 0.4 s" in text
    assert "    3.0 s   1. sleep(seconds=3.0)  (line 4)\n    0.2 s   2. expect_queue_empty(at=pf)  (line 5)" in text
    assert "time: up" not in result.report()
