"""Postfix's mail log parsed into queue ids and deliveries, on real logs of every version.

The logs under ``data/logs/<suite>-postfix.log`` were read from real containers (the topology
and commands are in ``tests/unit/kinds/README.md``): one message each that is sent, sent to
two recipients, bounced for a domain without DNS, bounced by a 550 from the remote, deferred
by a 450 from the remote and deferred for an MX where nothing runs. Message-IDs are
``<pf-NAME@t>``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kindtests import SUITES, Expected, assert_deliveries_of_each_message, deliveries_of, read_log

from harness.kinds.postfix import logs as postfix_logs
from harness.observe import logs
from harness.observe.logs import BOUNCED, DEFERRED, EXPIRED, SENT, LogLine

DATA = Path(__file__).parent / "data" / "logs"
VERSIONS = {"bullseye": "3.5.25", "bookworm": "3.7.11", "trixie": "3.10."}


def read(suite: str) -> list[LogLine]:
    return read_log(DATA, suite, "postfix")


PF_MX = "mx.remote.test[10.231.0.30]:25"
EXPECTED: dict[str, list[Expected]] = {
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


# --- parse_lines -----------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_the_fixture_is_from_the_version_it_is_named_after(suite: str) -> None:
    text = (DATA / f"{suite}-postfix.log").read_text(encoding="utf-8")
    assert "daemon started -- version " + VERSIONS[suite] in text


@pytest.mark.parametrize("suite", SUITES)
def test_every_mta_line_is_parsed_and_only_those(suite: str) -> None:
    raw = (DATA / f"{suite}-postfix.log").read_text(encoding="utf-8").splitlines()
    lines = read(suite)
    assert all(line.program.startswith("postfix") for line in lines)
    # busybox syslogd's own line is not a mail line; everything else is
    assert len(lines) == len([r for r in raw if "syslogd started" not in r])
    assert all(line.raw in raw for line in lines)


@pytest.mark.parametrize("suite", SUITES)
def test_lines_without_a_queue_id_have_none(suite: str) -> None:
    lines = read(suite)
    without = [line for line in lines if line.qid is None]
    assert without, "every log has daemon start lines"
    for line in without:
        assert not re.match(r"^[0-9A-Za-z]{10,14}: ", line.text), line.raw
    # a failed connect is logged by smtp without the queue id of the message it was for
    assert any(line.text == "connect to mx.dead.test[10.231.0.99]:25: No route to host" for line in without)
    with_qid = [line for line in lines if line.qid is not None]
    assert all(f"{line.qid}: {line.text}" in line.raw for line in with_qid)


def test_queue_ids_look_like_postfixs() -> None:
    for suite in SUITES:
        for line in read(suite):
            if line.qid is not None:
                assert re.fullmatch(r"[0-9A-F]{10,12}", line.qid), line.raw


# --- message ids and queue ids ---------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_each_message_id_maps_to_its_queue_ids(suite: str) -> None:
    lines = read(suite)
    for message_id in EXPECTED:
        qids = logs.queue_ids_for(lines, message_id)
        assert len(qids) == 1, (message_id, qids)
        for qid in qids:
            # the line that named the message-id carries that queue id
            assert any(line.qid == qid and message_id in line.text for line in lines)
    assert logs.queue_ids_for(lines, "<never-sent@t>") == set()


def test_postfix_queue_id_is_the_cleanup_lines() -> None:
    lines = read("bookworm")
    assert logs.queue_ids_for(lines, "<pf-sent@t>") == {"AA6B8196C8D"}
    assert "Nov 22 21:42:41 pf postfix/cleanup[319]: AA6B8196C8D: message-id=<pf-sent@t>" in [
        line.raw for line in lines
    ]


@pytest.mark.parametrize("suite", SUITES)
def test_postfix_bounce_notifications_get_their_own_message_id(suite: str) -> None:
    ids = logs.message_ids(read(suite))
    generated = [m for m in ids.values() if m.endswith("@pf.example.test>")]
    assert len(generated) == 2  # one non-delivery notification per bounced message


def test_a_resent_message_id_does_not_replace_the_message_id() -> None:
    text = (
        "Nov 22 21:42:41 pf postfix/cleanup[319]: 1A2B3C4D5E: message-id=<orig@t>\n"
        "Nov 22 21:42:41 pf postfix/cleanup[319]: 1A2B3C4D5E: resent-message-id=<resent@t>\n"
    )
    assert logs.message_ids(postfix_logs.parse(text)) == {"1A2B3C4D5E": "<orig@t>"}


# --- deliveries ------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_deliveries_of_each_message(suite: str) -> None:
    assert_deliveries_of_each_message(postfix_logs.deliveries, read(suite), EXPECTED)


@pytest.mark.parametrize("suite", SUITES)
def test_postfix_retries_deferred_mail_and_logs_each_attempt(suite: str) -> None:
    lines = read(suite)
    for message_id in ("<pf-grey@t>", "<pf-dead@t>"):
        attempts = deliveries_of(postfix_logs.deliveries, lines, message_id)
        assert len(attempts) >= 2, f"{message_id} was tried {len(attempts)} time(s)"
        assert {a.status for a in attempts} == {DEFERRED}


@pytest.mark.parametrize("suite", SUITES)
def test_statuses_follow_the_dsn_class(suite: str) -> None:
    for delivery in postfix_logs.deliveries(read(suite)):
        assert delivery.status == {"2": SENT, "4": DEFERRED, "5": BOUNCED}[delivery.dsn[0]], delivery.raw


# --- lines_for_message -----------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_lines_for_message_are_those_of_its_queue_ids(suite: str) -> None:
    lines = read(suite)
    qids = logs.queue_ids_for(lines, "<pf-grey@t>")
    found = logs.lines_for_message(lines, "<pf-grey@t>")
    assert {line.qid for line in found} == qids
    assert found == [line for line in lines if line.qid in qids]  # in log order
    services = [line.program for line in found[:4]]
    assert services == ["postfix/pickup", "postfix/cleanup", "postfix/qmgr", "postfix/smtp"]
    assert not any("<pf-sent@t>" in line.raw for line in found)


def test_postfix_expiry_is_a_delivery_event() -> None:
    line = "Nov 22 22:20:01 secondary postfix/qmgr[812]: 4B1C21E2A3F: from=<carol@sender.test>, status=expired, returned to sender"
    [event] = postfix_logs.deliveries(postfix_logs.parse(line))
    assert (event.qid, event.status, event.reason, event.recipients) == (
        "4B1C21E2A3F",
        EXPIRED,
        "returned to sender",
        (),
    )
