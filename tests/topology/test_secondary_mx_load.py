"""seeds/002 under load: 100 distinct messages sent while the primary MX is down all reach
the primary exactly once after it is back, and the secondary's queue ends empty.

The topology is scenarios/secondary-mx-host-down.yaml (real Postfix primary, the seed's
secondary) on its own subnet. Figures are printed (run with -s) and recorded as properties.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.core.waits import Poll, poll_until
from harness.topology import Topology

pytestmark = [pytest.mark.topology, pytest.mark.mta_subnets("10.204.25.0/24")]

MESSAGES = 100
RECIPIENT = "alice@example.jp"
SENDER = "carol@mta.sender.test"
SECONDARY_IP = r"10\.204\.25\.20"
MESSAGE_ID_HEADER = re.compile(r"^Message-ID: (<[^>]+>)", re.MULTILINE | re.IGNORECASE)


def message_ids_in_mailbox(topo: Topology, node: str, user: str) -> Counter[str]:
    return Counter(MESSAGE_ID_HEADER.findall(topo.node(node).mailbox(user)))


def test_no_mail_lost_while_the_primary_is_down(
    topology_factory: Callable[..., Topology],
    mta_suite: str,
    scenario_copy: Callable[..., Path],
    record_property: Callable[[str, object], None],
) -> None:
    topo = topology_factory(scenario_copy("secondary-mx-host-down", "10.204.21.", "10.204.25."), suite=mta_suite)
    primary, secondary, sender = topo.node("primary"), topo.node("secondary"), topo.node("sender")

    primary.stop()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        sent = list(
            pool.map(lambda i: topo.send(f"load-{i:03d}", "sender", [RECIPIENT], mail_from=SENDER), range(MESSAGES))
        )
    assert all(s.accepted for s in sent), [s.describe() for s in sent if not s.accepted]
    wanted = {s.message.message_id for s in sent}
    seconds_to_send = time.monotonic() - started

    # Every message leaves the sender (MX 10 times out, MX 100 accepts) and waits at the secondary.
    peak = 0

    def all_held() -> Poll[int]:
        nonlocal peak
        # distinct queue ids: a file moving between queue directories during the scan can be
        # listed twice by postqueue -j (measured on bullseye: 101 entries for 100 messages)
        held = len({entry.qid for entry in secondary.queue()})
        peak = max(peak, held)
        return Poll(held >= MESSAGES and not sender.queue(), held, f"{held} queued at the secondary")

    held = poll_until(all_held, timeout=120, max_interval=2.0)
    assert held.done, f"only {held.value} of {MESSAGES} messages reached the secondary's queue"
    seconds_to_fall_back = time.monotonic() - started

    primary.start()
    recovered = time.monotonic()
    secondary.flush()

    def drained() -> Poll[Counter[str]]:
        seen = message_ids_in_mailbox(topo, "primary", "alice")
        return Poll(wanted <= set(seen) and not secondary.queue(), seen, f"{len(wanted & set(seen))} delivered")

    result = poll_until(drained, timeout=120, max_interval=2.0)
    seconds_to_drain = time.monotonic() - recovered
    time.sleep(5)  # a late duplicate would show up now
    seen = message_ids_in_mailbox(topo, "primary", "alice")
    delivered = len(wanted & set(seen))
    duplicates = sum(n - 1 for mid, n in seen.items() if mid in wanted and n > 1)
    via_secondary = len(re.findall(rf"postfix/smtpd\[\d+\]: \w+: client=\S*\[{SECONDARY_IP}\]", primary.log_text()))

    figures = {
        "suite": mta_suite,
        "postfix": primary.version,
        "messages_sent": MESSAGES,
        "seconds_to_send": round(seconds_to_send, 1),
        "seconds_until_all_held_at_secondary": round(seconds_to_fall_back, 1),
        "queued_at_peak": peak,
        "delivered": delivered,
        "duplicates": duplicates,
        "delivered_via_secondary": via_secondary,
        "seconds_to_drain": round(seconds_to_drain, 1),
        "secondary_queue_at_end": len(secondary.queue()),
    }
    for key, value in figures.items():
        record_property(key, value)
    print("\nsecondary-mx load figures: " + ", ".join(f"{k}={v}" for k, v in figures.items()))

    assert result.done, f"not drained within 120 s: {result.state}; secondary queue: {len(secondary.queue())}"
    assert delivered == MESSAGES
    assert duplicates == 0
    assert via_secondary == MESSAGES, "every message should reach the primary through the secondary"
    assert not secondary.queue() and not sender.queue()
