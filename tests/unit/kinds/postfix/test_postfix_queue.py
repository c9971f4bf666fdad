"""Postfix's queue parsed into entries, on real listings of every version.

``data/queue/<suite>-postqueue.jsonl`` is ``postqueue -j``, read from the same containers as
the logs in ``data/logs`` while two messages were deferred: one by a 450 from the remote, one
for an MX where nothing runs. Queue ids are checked against the log of the same run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kindtests import SUITES, read_log

from harness.kinds.postfix.queue import parse_postqueue_json
from harness.observe import logs
from harness.observe.queue import QueueEntry

DATA = Path(__file__).parent / "data"


def read(name: str) -> str:
    return (DATA / "queue" / name).read_text(encoding="utf-8")


def qid_in_log(suite: str, message_id: str) -> str:
    """The queue id the log shows for the message."""
    [qid] = logs.queue_ids_for(read_log(DATA / "logs", suite, "postfix"), message_id)
    return qid


@pytest.mark.parametrize("suite", SUITES)
def test_postqueue_json_lists_the_deferred_messages(suite: str) -> None:
    entries = {e.qid: e for e in parse_postqueue_json(read(f"{suite}-postqueue.jsonl"))}
    grey = entries.pop(qid_in_log(suite, "<pf-grey@t>"))
    dead = entries.pop(qid_in_log(suite, "<pf-dead@t>"))
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
