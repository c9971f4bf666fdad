"""sendmail's mail log parsed into queue ids and deliveries, on real logs of every version.

The logs under ``data/logs/<suite>-sendmail.log`` were read from real containers (the topology
and commands are in ``tests/unit/kinds/README.md``): one message each that is sent, sent to
two recipients, bounced for a domain without DNS, bounced by a 550 from the remote, deferred
by a 450 from the remote and deferred for an MX where nothing runs. Message-IDs are
``<sm-NAME@t>``.

sendmail on Debian submits through its MSP: every message has two queue ids, the MSP's
(relay to ``[127.0.0.1]``) and the MTA's (delivery to the remote), both logging the msgid.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kindtests import SUITES, Expected, assert_deliveries_of_each_message, deliveries_of, read_log

from harness.kinds.sendmail import logs as sendmail_logs
from harness.observe import logs
from harness.observe.logs import BOUNCED, DEFERRED, SENT, LogLine

DATA = Path(__file__).parent / "data" / "logs"
VERSIONS = {"bullseye": "8.15.2", "bookworm": "8.17.1.9", "trixie": "8.18."}


def read(suite: str) -> list[LogLine]:
    return read_log(DATA, suite, "sendmail")


MSP = "[127.0.0.1] [127.0.0.1]"  # the MSP hands every message to the local MTA
SM_MX = "mx.remote.test. [10.231.0.30]"
HANDED_OVER = r"Sent \(\w{14} Message accepted for delivery\)"
RETURNED = Expected(("a@sm.example.test",), "", "5.1.1", BOUNCED, "User unknown")  # the bounce, to a local sender


def expected(suite: str) -> dict[str, list[Expected]]:
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


# --- parse_lines -----------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_the_fixture_is_from_the_version_it_is_named_after(suite: str) -> None:
    text = (DATA / f"{suite}-sendmail.log").read_text(encoding="utf-8")
    assert "starting daemon (" + VERSIONS[suite] in text


@pytest.mark.parametrize("suite", SUITES)
def test_every_mta_line_is_parsed_and_only_those(suite: str) -> None:
    raw = (DATA / f"{suite}-sendmail.log").read_text(encoding="utf-8").splitlines()
    lines = read(suite)
    assert {line.program for line in lines} <= {"sendmail"}
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
    with_qid = [line for line in lines if line.qid is not None]
    assert all(f"{line.qid}: {line.text}" in line.raw for line in with_qid)


def test_queue_ids_look_like_sendmails() -> None:
    for suite in SUITES:
        for line in read(suite):
            if line.qid is not None:
                assert re.fullmatch(r"[0-9A-Za-z]{14}", line.qid), line.raw


# --- message ids and queue ids ---------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_each_message_id_maps_to_its_queue_ids(suite: str) -> None:
    lines = read(suite)
    for message_id in expected(suite):
        qids = logs.queue_ids_for(lines, message_id)
        assert len(qids) == 2, (message_id, qids)  # the MSP's and the MTA's
        for qid in qids:
            # the line that named the message-id carries that queue id
            assert any(line.qid == qid and message_id in line.text for line in lines)
    assert logs.queue_ids_for(lines, "<never-sent@t>") == set()


def test_sendmail_message_has_the_msp_and_the_mta_queue_id() -> None:
    lines = read("bookworm")
    assert logs.queue_ids_for(lines, "<sm-sent@t>") == {"6AMLggFN000175", "6AMLggBk000176"}


# --- deliveries ------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_deliveries_of_each_message(suite: str) -> None:
    assert_deliveries_of_each_message(sendmail_logs.deliveries, read(suite), expected(suite))


@pytest.mark.parametrize("suite", SUITES)
def test_statuses_follow_the_dsn_class(suite: str) -> None:
    for delivery in sendmail_logs.deliveries(read(suite)):
        if delivery.reason == "queued":
            continue  # no attempt yet, no DSN (below)
        assert delivery.status == {"2": SENT, "4": DEFERRED, "5": BOUNCED}[delivery.dsn[0]], delivery.raw


@pytest.mark.parametrize("suite", SUITES)
def test_sendmail_reports_the_remote_reply_from_8_17_on(suite: str) -> None:
    [rejected] = [d for d in deliveries_of(sendmail_logs.deliveries, read(suite), "<sm-reject@t>") if d.relay == SM_MX]
    assert rejected.reason == "User unknown"  # stat= is sendmail's own words on every version
    has_reply = "reply=550 5.1.1 no such user" in rejected.raw
    assert has_reply == (suite != "bullseye")


def test_sendmail_queued_without_an_attempt_is_deferred_not_bounced() -> None:
    lines = read("trixie")  # <sm-held@t> was submitted with -odq
    [held] = deliveries_of(sendmail_logs.deliveries, lines, "<sm-held@t>")
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


@pytest.mark.parametrize("suite", SUITES)
def test_lines_for_message_are_those_of_its_queue_ids(suite: str) -> None:
    lines = read(suite)
    qids = logs.queue_ids_for(lines, "<sm-grey@t>")
    found = logs.lines_for_message(lines, "<sm-grey@t>")
    assert {line.qid for line in found} == qids
    assert found == [line for line in lines if line.qid in qids]  # in log order
    assert found[0].text.startswith("from=a@sm.example.test,")  # the MSP's from= line comes first
    assert not any("<sm-sent@t>" in line.raw for line in found)
