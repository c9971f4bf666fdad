"""An MTA's queue as structured entries; each MTA kind parses its own listing
(``harness/kinds/<kind>/queue.py``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueEntry:
    qid: str
    sender: str
    recipients: tuple[str, ...]
    reason: str
    queue: str = ""
