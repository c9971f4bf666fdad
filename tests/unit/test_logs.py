"""Mail logs parsed into queue ids and deliveries, on real logs of every MTA version.

The logs under ``data/logs/<suite>-<mta>.log`` were read from real containers (the topology
and commands are in ``data/README.md``): from Postfix and from sendmail, one message each
that is sent, sent to two recipients, bounced for a domain without DNS, bounced by a 550
from the remote, deferred by a 450 from the remote and deferred for an MX where nothing
runs. Message-IDs are ``<pf-NAME@t>`` and ``<sm-NAME@t>``.

sendmail on Debian submits through its MSP: every message has two queue ids, the MSP's
(relay to ``[127.0.0.1]``) and the MTA's (delivery to the remote), both logging the msgid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.kinds import KINDS
from harness.kinds.postfix import logs as postfix_logs
from harness.kinds.sendmail import logs as sendmail_logs
from harness.observe import logs
from harness.observe.logs import BOUNCED, DEFERRED, EXPIRED, SENT, Delivery, LogLine

DATA = Path(__file__).parent / "data" / "logs"
SUITES = ("bullseye", "bookworm", "trixie")
VERSIONS = {
    "bullseye": {"postfix": "3.5.25", "sendmail": "8.15.2"},
    "bookworm": {"postfix": "3.7.11", "sendmail": "8.17.1.9"},
    "trixie": {"postfix": "3.10.", "sendmail": "8.18."},
}


def read_log(suite: str, mta: str) -> list[LogLine]:
    """A fixture log, read by its MTA kind's own parser."""
    return KINDS[mta].parse_log((DATA / f"{suite}-{mta}.log").read_text(encoding="utf-8"))


def all_deliveries(lines: list[LogLine]) -> list[Delivery]:
    """The deliveries, by the parser of the MTA that wrote the lines."""
    parser = postfix_logs if lines and lines[0].program.startswith("postfix") else sendmail_logs
    return parser.deliveries(lines)


@dataclass(frozen=True)
class Expected:
    """One distinct delivery outcome; ``reason`` is a regular expression (full match)."""

    recipients: tuple[str, ...]
    relay: str
    dsn: str
    status: str
    reason: str

    def matches(self, delivery: Delivery) -> bool:
        return (delivery.recipients, delivery.relay, delivery.dsn, delivery.status) == (
            self.recipients,
            self.relay,
            self.dsn,
            self.status,
        ) and re.fullmatch(self.reason, delivery.reason) is not None


PF_MX = "mx.remote.test[10.231.0.30]:25"
POSTFIX: dict[str, list[Expected]] = {
    "<pf-sent@t>": [Expected(("bob@remote.test",), PF_MX, "2.0.0", SENT, re.escape("250 2.0.0 Message captured"))],
    "<pf-multi@t>": [
        Expected(("bob@remote.test",), PF_MX, "2.0.0", SENT, re.escape("250 2.0.0 Message captured")),
        Expected(("carol@remote.test",), PF_MX, "2.0.0", SENT, re.escape("250 2.0.0 Message captured")),
    ],
    "<pf-nodns@t>": [
        Expected(
            ("user@nodns.test",),
            "none",
            "5.4.4",
            BOUNCED,
            re.escape("Host or domain name not found. Name service error for name=nodns.test type=")
            + "(A|MX): Host not found",
        )
    ],
    "<pf-reject@t>": [
        Expected(
            ("reject@remote.test",),
            PF_MX,
            "5.1.1",
            BOUNCED,
            re.escape("host mx.remote.test[10.231.0.30] said: 550 5.1.1 no such user (in reply to RCPT TO command)"),
        )
    ],
    "<pf-grey@t>": [
        Expected(
            ("grey@remote.test",),
            PF_MX,
            "4.2.0",
            DEFERRED,
            re.escape("host mx.remote.test[10.231.0.30] said: 450 4.2.0 greylisted (in reply to RCPT TO command)"),
        )
    ],
    "<pf-dead@t>": [
        Expected(
            ("user@dead.test",),
            "none",
            "4.4.1",
            DEFERRED,
            re.escape("connect to mx.dead.test[10.231.0.99]:25: No route to host"),
        )
    ],
}

MSP = "[127.0.0.1] [127.0.0.1]"  # the MSP hands every message to the local MTA
SM_MX = "mx.remote.test. [10.231.0.30]"
HANDED_OVER = r"Sent \(\w{14} Message accepted for delivery\)"
RETURNED = Expected(("a@sm.example.test",), "", "5.1.1", BOUNCED, "User unknown")  # the bounce, to a local sender


def sendmail_expected(suite: str) -> dict[str, list[Expected]]:
    dead_dsn = "4.0.0" if suite == "bullseye" else "4.4.1"  # 8.15 gives no specific DSN for "No route to host"
    return {
        "<sm-sent@t>": [
            Expected(("bob@remote.test",), MSP, "2.0.0", SENT, HANDED_OVER),
            Expected(("bob@remote.test",), SM_MX, "2.0.0", SENT, re.escape("Sent (2.0.0 Message captured)")),
        ],
        "<sm-multi@t>": [
            # the MSP lists the recipients bare and in reverse, the MTA in angle brackets
            Expected(("carol@remote.test", "bob@remote.test"), MSP, "2.0.0", SENT, HANDED_OVER),
            Expected(
                ("bob@remote.test", "carol@remote.test"),
                SM_MX,
                "2.0.0",
                SENT,
                re.escape("Sent (2.0.0 Message captured)"),
            ),
        ],
        "<sm-nodns@t>": [
            Expected(("user@nodns.test",), MSP, "2.0.0", SENT, HANDED_OVER),
            Expected(
                ("user@nodns.test",),
                "nodns.test",
                "5.1.2",
                BOUNCED,
                re.escape("Host unknown (Name server: nodns.test: host not found)"),
            ),
            RETURNED,
        ],
        "<sm-reject@t>": [
            Expected(("reject@remote.test",), MSP, "2.0.0", SENT, HANDED_OVER),
            Expected(("reject@remote.test",), SM_MX, "5.1.1", BOUNCED, "User unknown"),
            RETURNED,
        ],
        "<sm-grey@t>": [
            Expected(("grey@remote.test",), MSP, "2.0.0", SENT, HANDED_OVER),
            Expected(("grey@remote.test",), SM_MX, "4.2.0", DEFERRED, re.escape("Deferred: 450 4.2.0 greylisted")),
        ],
        "<sm-dead@t>": [
            Expected(("user@dead.test",), MSP, "2.0.0", SENT, HANDED_OVER),
            Expected(
                ("user@dead.test",),
                "mx.dead.test. [10.231.0.99]",
                dead_dsn,
                DEFERRED,
                re.escape("Deferred: mx.dead.test.: No route to host"),
            ),
        ],
    }


def expected_for(suite: str, mta: str) -> dict[str, list[Expected]]:
    return POSTFIX if mta == "postfix" else sendmail_expected(suite)


def deliveries_of(lines: list[LogLine], message_id: str) -> list[Delivery]:
    qids = logs.queue_ids_for(lines, message_id)
    return [d for d in all_deliveries(lines) if d.qid in qids]


CASES = [(suite, mta) for suite in SUITES for mta in ("postfix", "sendmail")]


# --- parse_lines -----------------------------------------------------------------------------


@pytest.mark.parametrize(("suite", "mta"), CASES)
def test_the_fixture_is_from_the_version_it_is_named_after(suite: str, mta: str) -> None:
    text = (DATA / f"{suite}-{mta}.log").read_text(encoding="utf-8")
    marker = "daemon started -- version " if mta == "postfix" else "starting daemon ("
    assert marker + VERSIONS[suite][mta] in text


@pytest.mark.parametrize(("suite", "mta"), CASES)
def test_every_mta_line_is_parsed_and_only_those(suite: str, mta: str) -> None:
    raw = (DATA / f"{suite}-{mta}.log").read_text(encoding="utf-8").splitlines()
    lines = read_log(suite, mta)
    programs = {line.program for line in lines}
    assert programs <= ({"sendmail"} if mta == "sendmail" else {p for p in programs if p.startswith("postfix")})
    # busybox syslogd's own line is not a mail line; everything else is
    assert len(lines) == len([r for r in raw if "syslogd started" not in r])
    assert all(line.raw in raw for line in lines)


@pytest.mark.parametrize(("suite", "mta"), CASES)
def test_lines_without_a_queue_id_have_none(suite: str, mta: str) -> None:
    lines = read_log(suite, mta)
    without = [line for line in lines if line.qid is None]
    assert without, "every log has daemon start lines"
    for line in without:
        assert not re.match(r"^[0-9A-Za-z]{10,14}: ", line.text), line.raw
    if mta == "postfix":
        # a failed connect is logged by smtp without the queue id of the message it was for
        assert any(line.text == "connect to mx.dead.test[10.231.0.99]:25: No route to host" for line in without)
    with_qid = [line for line in lines if line.qid is not None]
    assert all(f"{line.qid}: {line.text}" in line.raw for line in with_qid)


def test_queue_ids_look_like_each_mtas() -> None:
    for suite in SUITES:
        for line in read_log(suite, "postfix"):
            if line.qid is not None:
                assert re.fullmatch(r"[0-9A-F]{10,12}", line.qid), line.raw
        for line in read_log(suite, "sendmail"):
            if line.qid is not None:
                assert re.fullmatch(r"[0-9A-Za-z]{14}", line.qid), line.raw


# --- message ids and queue ids ---------------------------------------------------------------


@pytest.mark.parametrize(("suite", "mta"), CASES)
def test_each_message_id_maps_to_its_queue_ids(suite: str, mta: str) -> None:
    lines = read_log(suite, mta)
    for message_id in expected_for(suite, mta):
        qids = logs.queue_ids_for(lines, message_id)
        assert len(qids) == (1 if mta == "postfix" else 2), (message_id, qids)
        for qid in qids:
            # the line that named the message-id carries that queue id
            assert any(line.qid == qid and message_id in line.text for line in lines)
    assert logs.queue_ids_for(lines, "<never-sent@t>") == set()


def test_postfix_queue_id_is_the_cleanup_lines() -> None:
    lines = read_log("bookworm", "postfix")
    assert logs.queue_ids_for(lines, "<pf-sent@t>") == {"AA6B8196C8D"}
    assert "Nov 22 21:42:41 pf postfix/cleanup[319]: AA6B8196C8D: message-id=<pf-sent@t>" in [
        line.raw for line in lines
    ]


def test_sendmail_message_has_the_msp_and_the_mta_queue_id() -> None:
    lines = read_log("bookworm", "sendmail")
    assert logs.queue_ids_for(lines, "<sm-sent@t>") == {"6AMLggFN000175", "6AMLggBk000176"}


@pytest.mark.parametrize("suite", SUITES)
def test_postfix_bounce_notifications_get_their_own_message_id(suite: str) -> None:
    ids = logs.message_ids(read_log(suite, "postfix"))
    generated = [m for m in ids.values() if m.endswith("@pf.example.test>")]
    assert len(generated) == 2  # one non-delivery notification per bounced message


def test_a_resent_message_id_does_not_replace_the_message_id() -> None:
    text = (
        "Nov 22 21:42:41 pf postfix/cleanup[319]: 1A2B3C4D5E: message-id=<orig@t>\n"
        "Nov 22 21:42:41 pf postfix/cleanup[319]: 1A2B3C4D5E: resent-message-id=<resent@t>\n"
    )
    assert logs.message_ids(postfix_logs.parse(text)) == {"1A2B3C4D5E": "<orig@t>"}


# --- deliveries ------------------------------------------------------------------------------


@pytest.mark.parametrize(("suite", "mta"), CASES)
def test_deliveries_of_each_message(suite: str, mta: str) -> None:
    lines = read_log(suite, mta)
    for message_id, expected in expected_for(suite, mta).items():
        found = deliveries_of(lines, message_id)
        assert found, f"no delivery of {message_id}"
        unmatched = [d for d in found if not any(e.matches(d) for e in expected)]
        assert not unmatched, f"{message_id}: unexpected {unmatched}"
        missing = [e for e in expected if not any(e.matches(d) for d in found)]
        assert not missing, f"{message_id}: no delivery like {missing} in {found}"


@pytest.mark.parametrize("suite", SUITES)
def test_postfix_retries_deferred_mail_and_logs_each_attempt(suite: str) -> None:
    lines = read_log(suite, "postfix")
    for message_id in ("<pf-grey@t>", "<pf-dead@t>"):
        attempts = deliveries_of(lines, message_id)
        assert len(attempts) >= 2, f"{message_id} was tried {len(attempts)} time(s)"
        assert {a.status for a in attempts} == {DEFERRED}


@pytest.mark.parametrize(("suite", "mta"), CASES)
def test_statuses_follow_the_dsn_class(suite: str, mta: str) -> None:
    for delivery in all_deliveries(read_log(suite, mta)):
        if delivery.reason == "queued":
            continue  # no attempt yet, no DSN (below)
        assert delivery.status == {"2": SENT, "4": DEFERRED, "5": BOUNCED}[delivery.dsn[0]], delivery.raw


@pytest.mark.parametrize("suite", SUITES)
def test_sendmail_reports_the_remote_reply_from_8_17_on(suite: str) -> None:
    [rejected] = [d for d in deliveries_of(read_log(suite, "sendmail"), "<sm-reject@t>") if d.relay == SM_MX]
    assert rejected.reason == "User unknown"  # stat= is sendmail's own words on every version
    has_reply = "reply=550 5.1.1 no such user" in rejected.raw
    assert has_reply == (suite != "bullseye")


def test_sendmail_queued_without_an_attempt_is_deferred_not_bounced() -> None:
    lines = read_log("trixie", "sendmail")  # <sm-held@t> was submitted with -odq
    [held] = deliveries_of(lines, "<sm-held@t>")
    assert (held.recipients, held.relay, held.dsn, held.status, held.reason) == (
        ("held@remote.test",),
        "",
        "",
        DEFERRED,
        "queued",
    )


def test_a_sendmail_line_without_stat_is_not_a_delivery() -> None:
    text = "Nov 22 21:42:42 sm sendmail[200]: 6AMLggim000198: to=<x@t>, delay=00:00:00, mailer=esmtp\n"
    assert sendmail_logs.deliveries(sendmail_logs.parse(text)) == []


# --- lines_for_message -----------------------------------------------------------------------


@pytest.mark.parametrize(("suite", "mta"), CASES)
def test_lines_for_message_are_those_of_its_queue_ids(suite: str, mta: str) -> None:
    lines = read_log(suite, mta)
    message_id = "<pf-grey@t>" if mta == "postfix" else "<sm-grey@t>"
    qids = logs.queue_ids_for(lines, message_id)
    found = logs.lines_for_message(lines, message_id)
    assert {line.qid for line in found} == qids
    assert found == [line for line in lines if line.qid in qids]  # in log order
    if mta == "postfix":
        services = [line.program for line in found[:4]]
        assert services == ["postfix/pickup", "postfix/cleanup", "postfix/qmgr", "postfix/smtp"]
    else:
        assert found[0].text.startswith("from=a@sm.example.test,")  # the MSP's from= line comes first
    assert not any("<pf-sent@t>" in line.raw or "<sm-sent@t>" in line.raw for line in found)


def test_postfix_expiry_is_a_delivery_event() -> None:
    line = "Nov 22 22:20:01 secondary postfix/qmgr[812]: 4B1C21E2A3F: from=<carol@sender.test>, status=expired, returned to sender"
    [event] = postfix_logs.deliveries(postfix_logs.parse(line))
    assert (event.qid, event.status, event.reason, event.recipients) == (
        "4B1C21E2A3F",
        EXPIRED,
        "returned to sender",
        (),
    )
