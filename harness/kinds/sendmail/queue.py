"""sendmail's queue, from ``mailq`` (``sendmail -bp``)."""

from __future__ import annotations

import re

from harness.observe.queue import QueueEntry

# The flag after the queue id is not part of it: '*' (being delivered), 'X' (held: the load
# average is above QueueLA), '-' (quarantined). The id itself ends in its process id's digits,
# so the shortest match that leaves the flag out is the id.
_MAILQ_HEAD = re.compile(r"^(?P<qid>[0-9A-Za-z]{8,20}?)[*X-]?\s+\d+\s+\w{3} \w{3}\s+\d+\s+[\d:]+\s+(?P<sender>\S+)")
_MAILQ_DIR = re.compile(r"^\s*(?P<dir>/\S+)(?: \(\d+ requests?\)| is empty)")


def parse_mailq(text: str) -> list[QueueEntry]:
    """sendmail's ``mailq`` (``sendmail -bp``) listing: every queue it shows, MSP and MTA.

    An entry's queue is the last path of its queue directory (``mqueue``, ``mqueue-client``).
    Recipients are listed indented, in angle brackets or bare (``root``, ``|program``).
    """
    entries: list[QueueEntry] = []
    current: dict[str, object] | None = None
    queue = "mqueue"

    def close() -> None:
        if current is not None:
            entries.append(
                QueueEntry(
                    qid=str(current["qid"]),
                    sender=str(current["sender"]).strip("<>"),
                    recipients=tuple(current["recipients"]),  # type: ignore[arg-type]
                    reason=str(current["reason"]),
                    queue=queue,
                )
            )

    for line in text.splitlines():
        head = _MAILQ_HEAD.match(line)
        if head:
            close()
            current = {"qid": head.group("qid"), "sender": head.group("sender"), "recipients": [], "reason": ""}
            continue
        directory = _MAILQ_DIR.match(line)
        stripped = line.strip()
        if directory or stripped.startswith(("Total requests", "MSP Queue status", "MTA Queue status")):
            close()
            current = None
            if directory:
                queue = directory.group("dir").rstrip("/").rsplit("/", 1)[-1]
            continue
        if current is None or not stripped or not line[:1].isspace():
            continue
        if stripped.startswith("(") and stripped.endswith(")"):
            current["reason"] = stripped[1:-1]
        else:
            current["recipients"].append(stripped.strip("<>"))  # type: ignore[attr-defined]
    close()
    return entries
