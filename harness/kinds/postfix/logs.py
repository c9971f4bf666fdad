"""Postfix's mail log: ``postfix/<service>[pid]: QID: ...`` lines, delivery attempts with
``status=`` and expiry as ``from=<...>, status=expired``."""

from __future__ import annotations

import re

from harness.observe.logs import DSN, EXPIRED, RELAY, TO, Delivery, LogLine, parse_lines, recipients_of

PROGRAMS = r"postfix[\w/.-]*"
# The short queue id (global/mail_queue.h, MQID_SH_*): upper-case hex, the time's
# microseconds in exactly five digits, then the queue file's inode number. The inode part
# grows with the file system; in the containers' logs it is six digits ("06002196173",
# "33B241AD053"), so four to seven digits are accepted (9 to 12 characters in all).
QUEUE_ID = r"[0-9A-F]{5}[0-9A-F]{4,7}"
_STATUS = re.compile(r"\bstatus=(?P<status>[a-z]+)(?: \((?P<reason>.*)\))?\s*$")


def parse(text: str) -> list[LogLine]:
    return parse_lines(text, PROGRAMS)


def deliveries(lines: list[LogLine]) -> list[Delivery]:
    result = []
    for line in lines:
        if line.qid is None:
            continue
        if line.text.startswith("from=") and "status=expired" in line.text:
            # "QID: from=<sender>, status=expired, returned to sender"
            reason = line.text.split("status=expired", 1)[1].lstrip(", ")
            result.append(Delivery(line.qid, (), "", "", EXPIRED, reason, line.raw))
            continue
        status = _STATUS.search(line.text)
        if not line.text.startswith("to=") or status is None:
            continue
        relay = RELAY.search(line.text)
        dsn = DSN.search(line.text)
        result.append(
            Delivery(
                qid=line.qid,
                recipients=recipients_of(TO.search(line.text)),
                relay=relay.group("relay").strip() if relay else "",
                dsn=dsn.group("dsn") if dsn else "",
                status=status.group("status"),
                reason=status.group("reason") or "",
                raw=line.raw,
            )
        )
    return result
