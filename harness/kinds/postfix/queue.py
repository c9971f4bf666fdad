"""Postfix's queue, from ``postqueue -j`` (one JSON object per queued message)."""

from __future__ import annotations

import json

from harness.observe.queue import QueueEntry


def parse_postqueue_json(text: str) -> list[QueueEntry]:
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        data = json.loads(line)
        recipients = data.get("recipients", [])
        reasons = [r.get("delay_reason", "") for r in recipients if r.get("delay_reason")]
        entries.append(
            QueueEntry(
                qid=data["queue_id"],
                sender=data.get("sender", ""),
                recipients=tuple(r["address"] for r in recipients),
                reason="; ".join(reasons),
                queue=data.get("queue_name", ""),
            )
        )
    return entries
