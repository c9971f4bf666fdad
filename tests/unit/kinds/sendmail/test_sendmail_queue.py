"""sendmail's queue parsed into entries, on real listings of every version.

``data/queue/<suite>-sendmail-bp.txt`` is ``sendmail -Am -bp`` (what the harness runs) and
``<suite>-mailq.txt`` Debian's ``mailq`` (MSP and MTA queue), read from the same containers as
the logs in ``data/logs`` while two messages were deferred: one by a 450 from the remote, one
for an MX where nothing runs. Queue ids are checked against the log of the same run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kindtests import SUITES, read_log

from harness.kinds.sendmail import logs as sendmail_logs
from harness.kinds.sendmail.queue import parse_mailq
from harness.observe import logs
from harness.observe.queue import QueueEntry

DATA = Path(__file__).parent / "data"


def read(name: str) -> str:
    return (DATA / "queue" / name).read_text(encoding="utf-8")


def qid_in_log(suite: str, message_id: str, relay_prefix: str) -> str:
    """The queue id the log shows for the message: the MTA's, not the MSP's."""
    lines = read_log(DATA / "logs", suite, "sendmail")
    qids = logs.queue_ids_for(lines, message_id)
    [qid] = {d.qid for d in sendmail_logs.deliveries(lines) if d.qid in qids and d.relay.startswith(relay_prefix)}
    return qid


MAILER_DAEMON_ENTRY = ("MAILER-DAEMON", ("root",), "Operating system error")


@pytest.mark.parametrize("listing", ["sendmail-bp", "mailq"])
@pytest.mark.parametrize("suite", SUITES)
def test_sendmail_queue_lists_the_deferred_messages(suite: str, listing: str) -> None:
    entries = {e.qid: e for e in parse_mailq(read(f"{suite}-{listing}.txt")) if e.queue == "mqueue"}
    grey = entries.pop(qid_in_log(suite, "<sm-grey@t>", "mx."))
    dead = entries.pop(qid_in_log(suite, "<sm-dead@t>", "mx."))
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


def test_a_message_held_for_the_load_average_keeps_its_queue_id() -> None:
    # 'X': held because the load average is above QueueLA (seen on a busy 2-core machine);
    # the id is the one the log gives the message, without the flag.
    text = (
        "\t\t/var/spool/mqueue (1 request)\n"
        "-----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------\n"
        "6B3J4ofT000166X      42 Thu Dec  3 19:04 root@leak-sm.nix.co.jj\n"
        "                 (Deferred: mx.outside.test.: Network is unreachable)\n"
        "\t\t\t\t\t kkk@outside.test\n"
        "\t\tTotal requests: 1\n"
    )
    assert parse_mailq(text) == [
        QueueEntry(
            "6B3J4ofT000166",
            "root@leak-sm.nix.co.jj",
            ("kkk@outside.test",),
            "Deferred: mx.outside.test.: Network is unreachable",
            "mqueue",
        )
    ]
