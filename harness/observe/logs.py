"""Mail logs as structured events: which queue id carried which message, and every
delivery attempt with its recipient, relay, DSN, status and reason.

Understands Postfix (``postfix/<service>[pid]: QID: ...``) and sendmail
(``sendmail[pid]: QID: ...``) lines, in syslog or ``maillog_file`` layout.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_LINE = re.compile(r"(?P<program>postfix[\w/.-]*|sendmail|sm-mta|sm-msp-queue)\[(?P<pid>\d+)\]: (?P<text>.*)$")
_QID = re.compile(r"^(?P<qid>[0-9A-Za-z]{8,20}): (?P<rest>.*)$")
_TO = re.compile(r"\bto=(?P<to><[^>]*>(?:,<[^>]*>)*|[^,\s]+(?:,[^,\s]+)*)")
_RELAY = re.compile(r"\brelay=(?P<relay>[^,]+)")
_DSN = re.compile(r"\bdsn=(?P<dsn>\d\.\d{1,3}\.\d{1,3})")
_POSTFIX_STATUS = re.compile(r"\bstatus=(?P<status>[a-z]+)(?: \((?P<reason>.*)\))?\s*$")
_SENDMAIL_STAT = re.compile(r"\bstat=(?P<stat>.*)$")
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


def parse_lines(text: str) -> list[LogLine]:
    result = []
    for raw in text.splitlines():
        match = _LINE.search(raw)
        if match is None:
            continue
        body = match.group("text")
        qid_match = _QID.match(body)
        if qid_match and not body.startswith(("NOQUEUE", "warning", "fatal", "error")):
            result.append(LogLine(raw, match.group("program"), qid_match.group("qid"), qid_match.group("rest")))
        else:
            result.append(LogLine(raw, match.group("program"), None, body))
    return result


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


def _status_of_sendmail(stat: str, dsn: str) -> str:
    if stat.startswith("Sent"):
        return SENT
    # "queued": accepted into the queue without a delivery attempt (-odq, queue-only mode);
    # it is still waiting, not bounced.
    if stat.startswith(("Deferred", "queued")) or dsn.startswith("4"):
        return DEFERRED
    return BOUNCED


def deliveries(lines: Iterable[LogLine]) -> list[Delivery]:
    result = []
    for line in lines:
        if line.qid is not None and line.text.startswith("from=") and "status=expired" in line.text:
            # Postfix: "QID: from=<sender>, status=expired, returned to sender"
            result.append(
                Delivery(line.qid, (), "", "", EXPIRED, line.text.split("status=expired", 1)[1].lstrip(", "), line.raw)
            )
            continue
        if line.qid is None or not line.text.startswith("to="):
            continue
        to = _TO.search(line.text)
        relay = _RELAY.search(line.text)
        dsn = _DSN.search(line.text)
        recipients = tuple(r.strip("<>") for r in to.group("to").split(",")) if to else ()
        dsn_text = dsn.group("dsn") if dsn else ""
        postfix = _POSTFIX_STATUS.search(line.text)
        if line.program.startswith("postfix") and postfix:
            status, reason = postfix.group("status"), postfix.group("reason") or ""
        else:
            stat = _SENDMAIL_STAT.search(line.text)
            if stat is None:
                continue
            reason = stat.group("stat")
            status = _status_of_sendmail(reason, dsn_text)
        result.append(
            Delivery(
                qid=line.qid,
                recipients=recipients,
                relay=relay.group("relay").strip() if relay else "",
                dsn=dsn_text,
                status=status,
                reason=reason,
                raw=line.raw,
            )
        )
    return result


def lines_for_message(lines: list[LogLine], message_id: str) -> list[LogLine]:
    """The lines of every queue id that carried the message (and lines naming it)."""
    qids = queue_ids_for(lines, message_id)
    return [line for line in lines if (line.qid in qids) or message_id in line.raw]
