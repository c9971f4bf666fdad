"""Mail logs as structured events: which queue id carried which message, and every
delivery attempt with its recipient, relay, DSN, status and reason.

This module holds what every MTA's log has in common: syslog-style ``program[pid]: QID: ...``
lines (in syslog or ``maillog_file`` layout), ``message-id=``/``msgid=`` fields that tie a
queue id to a message, and the ``to=``/``relay=``/``dsn=`` fields of delivery lines. Each
MTA kind reads its own log with it (``harness/kinds/<kind>/logs.py``): which programs write
the log, and how a delivery's status is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

QID = re.compile(r"^(?P<qid>[0-9A-Za-z]{8,20}): (?P<rest>.*)$")
TO = re.compile(r"\bto=(?P<to><[^>]*>(?:,<[^>]*>)*|[^,\s]+(?:,[^,\s]+)*)")
RELAY = re.compile(r"\brelay=(?P<relay>[^,]+)")
DSN = re.compile(r"\bdsn=(?P<dsn>\d\.\d{1,3}\.\d{1,3})")
_MSGID = re.compile(r"(?<![\w-])(?:message-id|msgid)=(?P<msgid><[^>]*>)")

SENT, DEFERRED, BOUNCED, EXPIRED = "sent", "deferred", "bounced", "expired"


@dataclass(frozen=True)
class LogLine:
    raw: str
    program: str
    qid: str | None
    text: str  # after "QID: " when there is a queue id


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt of one queue id to one or more recipients."""

    qid: str
    recipients: tuple[str, ...]
    relay: str
    dsn: str
    status: str
    reason: str
    raw: str


def parse_lines(text: str, programs: str) -> list[LogLine]:
    """The lines written by ``programs`` (a regular expression of syslog program names)."""
    line_re = re.compile(rf"(?P<program>{programs})\[(?P<pid>\d+)\]: (?P<text>.*)$")
    result = []
    for raw in text.splitlines():
        match = line_re.search(raw)
        if match is None:
            continue
        body = match.group("text")
        qid_match = QID.match(body)
        if qid_match and not body.startswith(("NOQUEUE", "warning", "fatal", "error")):
            result.append(LogLine(raw, match.group("program"), qid_match.group("qid"), qid_match.group("rest")))
        else:
            result.append(LogLine(raw, match.group("program"), None, body))
    return result


def recipients_of(match: re.Match[str] | None) -> tuple[str, ...]:
    """The addresses of a ``to=`` field."""
    return tuple(r.strip("<>") for r in match.group("to").split(",")) if match else ()


def message_ids(lines: Iterable[LogLine]) -> dict[str, str]:
    """Queue id -> Message-ID, from Postfix's cleanup line and sendmail's from= line."""
    result: dict[str, str] = {}
    for line in lines:
        if line.qid is None:
            continue
        match = _MSGID.search(line.text)
        if match:
            result[line.qid] = match.group("msgid")
    return result


def queue_ids_for(lines: Iterable[LogLine], message_id: str) -> set[str]:
    return {qid for qid, msgid in message_ids(lines).items() if msgid == message_id}


def lines_for_message(lines: list[LogLine], message_id: str) -> list[LogLine]:
    """The lines of every queue id that carried the message (and lines naming it)."""
    qids = queue_ids_for(lines, message_id)
    return [line for line in lines if (line.qid in qids) or message_id in line.raw]
