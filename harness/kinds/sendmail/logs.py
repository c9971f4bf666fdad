"""sendmail's mail log (``sendmail[pid]: QID: ...`` through syslog): delivery attempts with
``stat=``; the DSN class decides between deferred and bounced."""

from __future__ import annotations

import re

from harness.observe.logs import BOUNCED, DEFERRED, DSN, RELAY, SENT, TO, Delivery, LogLine, parse_lines, recipients_of

# opendkim: a DKIM signer (the node key dkim:) logs to the same syslog, with the queue id.
PROGRAMS = r"sendmail|sm-mta|sm-msp-queue|opendkim"
# The queue id of sendmail 8.12+ (queue.c, assign_queueid()): "YMDhmsNNPPPPPP". One
# character each, from "0-9A-Za-x" (60 symbols), for the year modulo 60, the month (0-11),
# the day (1-31), the hour (0-23), the minute and the second (0-61, "0-9A-Za-z"); two
# characters of sequence number (0-9A-Za-x); then the process id in at least six decimal
# digits. "6AMLggBk000176": 2026 (6), November (A), the 22nd (M), 21:42:42 (L g g), sequence
# "Bk", pid 176. Fourteen characters while the pid fits in six digits.
QUEUE_ID = r"[0-9A-Za-x][0-9AB][1-9A-V][0-9A-N][0-9A-Za-z]{2}[0-9A-Za-x]{2}[0-9]{6,7}"
_STAT = re.compile(r"\bstat=(?P<stat>.*)$")


def parse(text: str) -> list[LogLine]:
    return parse_lines(text, PROGRAMS)


def status_of(stat: str, dsn: str) -> str:
    if stat.startswith("Sent"):
        return SENT
    # "queued": accepted into the queue without a delivery attempt (-odq, queue-only mode);
    # it is still waiting, not bounced.
    if stat.startswith(("Deferred", "queued")) or dsn.startswith("4"):
        return DEFERRED
    return BOUNCED


def deliveries(lines: list[LogLine]) -> list[Delivery]:
    result = []
    for line in lines:
        if line.qid is None or not line.text.startswith("to="):
            continue
        stat = _STAT.search(line.text)
        if stat is None:
            continue
        relay = RELAY.search(line.text)
        dsn = DSN.search(line.text)
        dsn_text = dsn.group("dsn") if dsn else ""
        result.append(
            Delivery(
                qid=line.qid,
                recipients=recipients_of(TO.search(line.text)),
                relay=relay.group("relay").strip() if relay else "",
                dsn=dsn_text,
                status=status_of(stat.group("stat"), dsn_text),
                reason=stat.group("stat"),
                raw=line.raw,
            )
        )
    return result
