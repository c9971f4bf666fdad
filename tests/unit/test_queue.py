"""MTA queues parsed into entries, on real listings of every MTA version.

``data/queue/<suite>-postqueue.jsonl`` is ``postqueue -j`` and ``<suite>-sendmail-bp.txt`` is
``sendmail -Am -bp`` (what the harness runs), ``<suite>-mailq.txt`` Debian's ``mailq`` (MSP
and MTA queue), all read from the same containers as the logs in ``data/logs`` while two
messages were deferred: one by a 450 from the remote, one for an MX where nothing runs.
Queue ids are checked against the log of the same run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.kinds import KINDS
from harness.kinds.postfix.queue import parse_postqueue_json
from harness.kinds.sendmail.queue import parse_mailq
from harness.observe import logs
from harness.observe.queue import QueueEntry

DATA = Path(__file__).parent / "data"
SUITES = ("bullseye", "bookworm", "trixie")


def read(name: str) -> str:
    return (DATA / "queue" / name).read_text(encoding="utf-8")


def qid_in_log(suite: str, mta: str, message_id: str, relay_prefix: str = "") -> str:
    """The queue id the log shows for the message (sendmail: the MTA's, not the MSP's)."""
    kind = KINDS[mta]
    lines = kind.parse_log((DATA / "logs" / f"{suite}-{mta}.log").read_text(encoding="utf-8"))
    qids = logs.queue_ids_for(lines, message_id)
    if mta == "sendmail":
        qids = {d.qid for d in kind.deliveries(lines) if d.qid in qids and d.relay.startswith(relay_prefix)}
    [qid] = qids
    return qid


# --- Postfix ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_postqueue_json_lists_the_deferred_messages(suite: str) -> None:
    entries = {e.qid: e for e in parse_postqueue_json(read(f"{suite}-postqueue.jsonl"))}
    grey = entries.pop(qid_in_log(suite, "postfix", "<pf-grey@t>"))
    dead = entries.pop(qid_in_log(suite, "postfix", "<pf-dead@t>"))
    assert entries == {}, "only the two deferred messages stay queued"
    assert grey.sender == dead.sender == "a@pf.example.test"
    assert grey.queue == dead.queue == "deferred"
    assert grey.recipients == ("grey@remote.test",)
    assert grey.reason == "host mx.remote.test[10.231.0.30] said: 450 4.2.0 greylisted (in reply to RCPT TO command)"
    assert dead.recipients == ("user@dead.test",)
    assert dead.reason == "connect to mx.dead.test[10.231.0.99]:25: No route to host"


def test_postqueue_json_of_an_empty_queue_is_empty() -> None:
    assert parse_postqueue_json("") == []
    assert parse_postqueue_json("postqueue: warning: Mail system is down -- accessing queue directly\n") == []


def test_postqueue_json_joins_the_reasons_of_several_recipients() -> None:
    line = (
        '{"queue_name": "deferred", "queue_id": "3FC03196184", "arrival_time": 1795383843, "message_size": 233, '
        '"forced_expire": false, "sender": "", "recipients": [{"address": "a@dead.test", "delay_reason": "timed out"}, '
        '{"address": "b@dead.test", "delay_reason": "refused"}, {"address": "c@dead.test"}]}\n'
    )
    assert parse_postqueue_json(line) == [
        QueueEntry(
            qid="3FC03196184",
            sender="",
            recipients=("a@dead.test", "b@dead.test", "c@dead.test"),
            reason="timed out; refused",
            queue="deferred",
        )
    ]


# --- sendmail --------------------------------------------------------------------------------

MAILER_DAEMON_ENTRY = ("MAILER-DAEMON", ("root",), "Operating system error")


@pytest.mark.parametrize("listing", ["sendmail-bp", "mailq"])
@pytest.mark.parametrize("suite", SUITES)
def test_sendmail_queue_lists_the_deferred_messages(suite: str, listing: str) -> None:
    entries = {e.qid: e for e in parse_mailq(read(f"{suite}-{listing}.txt")) if e.queue == "mqueue"}
    grey = entries.pop(qid_in_log(suite, "sendmail", "<sm-grey@t>", "mx."))
    dead = entries.pop(qid_in_log(suite, "sendmail", "<sm-dead@t>", "mx."))
    assert (grey.sender, grey.recipients, grey.reason) == (
        "a@sm.example.test",
        ("grey@remote.test",),
        "Deferred: 450 4.2.0 greylisted",
    )
    assert (dead.sender, dead.recipients, dead.reason) == (
        "a@sm.example.test",
        ("user@dead.test",),
        "Deferred: mx.dead.test.: No route to host",
    )
    # The postmaster copies of the two bounces wait too: root's local delivery failed.
    assert [(e.sender, e.recipients, e.reason) for e in entries.values()] == [MAILER_DAEMON_ENTRY] * 2


@pytest.mark.parametrize("suite", SUITES)
def test_mailq_and_sendmail_bp_agree_on_the_mta_queue(suite: str) -> None:
    both = [e for e in parse_mailq(read(f"{suite}-mailq.txt")) if e.queue == "mqueue"]
    assert both == parse_mailq(read(f"{suite}-sendmail-bp.txt"))


def test_an_msp_queue_entry_is_labelled_with_its_queue() -> None:
    entries = parse_mailq(read("trixie-mailq.txt"))
    client = [e for e in entries if e.queue == "mqueue-client"]
    assert [(e.sender, e.recipients) for e in client] == [("a@sm.example.test", ("held@remote.test",))]


def test_an_empty_sendmail_queue_is_empty() -> None:
    text = "MSP Queue status...\n/var/spool/mqueue-client is empty\n\t\tTotal requests: 0\nMTA Queue status...\n/var/spool/mqueue is empty\n\t\tTotal requests: 0\n"
    assert parse_mailq(text) == []


def test_sendmail_queue_flags_and_bare_recipients() -> None:
    # '*' marks a message being delivered right now; local recipients are listed bare.
    text = (
        "\t\t/var/spool/mqueue (2 requests)\n"
        "-----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------\n"
        "6AMLggYW000210*       5 Sun Nov 22 21:42 <a@sm.example.test>\n"
        "\t\t\t\t\t <user@dead.test>\n"
        "6AMLggim000200     1525 Sun Nov 22 21:42 MAILER-DAEMON\n"
        "                 (Operating system error)\n"
        "\t\t\t\t\t root\n"
        "\t\t\t\t\t |/usr/bin/procmail\n"
        "\t\tTotal requests: 2\n"
    )
    assert parse_mailq(text) == [
        QueueEntry("6AMLggYW000210", "a@sm.example.test", ("user@dead.test",), "", "mqueue"),
        QueueEntry(
            "6AMLggim000200", "MAILER-DAEMON", ("root", "|/usr/bin/procmail"), "Operating system error", "mqueue"
        ),
    ]
