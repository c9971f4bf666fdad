"""Topologies whose subnets overlap cannot be up at once on one engine. Parallel runs
(pytest-xdist workers, several shells) lock the address blocks their subnets cover, so an
overlapping topology waits for the other to come down instead of failing, whatever
scheduled the runs.

Two levels keep unrelated topologies apart without making them wait: a subnet of /24 or
narrower takes its /24 exclusively and its /16 shared; a wider one takes every /16 it
touches exclusively. Locks are taken in one global order (every /16, then every /24), so
no two runs can wait for each other. A process holds each lock once, however many
topologies it starts.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

LOCK_DIR = Path(tempfile.gettempdir()) / "mta-harness-subnets"
_held: dict[str, tuple[int, int]] = {}  # block -> (file descriptor, holders in this process)
_guard = threading.Lock()


def blocks(subnets: Iterable[ipaddress.IPv4Network]) -> list[tuple[str, bool]]:
    """(block, exclusive) to lock for the subnets, in the order locks are taken."""
    wide: set[ipaddress.IPv4Network] = set()
    shared: set[ipaddress.IPv4Network] = set()
    narrow: set[ipaddress.IPv4Network] = set()
    for subnet in subnets:
        if subnet.prefixlen >= 24:
            narrow.add(subnet.supernet(new_prefix=24))
            shared.add(subnet.supernet(new_prefix=16))
        elif subnet.prefixlen >= 16:
            wide.add(subnet.supernet(new_prefix=16))
        else:
            wide.update(subnet.subnets(new_prefix=16))
    level16 = [(b, True) for b in wide] + [(b, False) for b in shared - wide]
    return [(str(b), exclusive) for b, exclusive in sorted(level16)] + [(str(b), True) for b in sorted(narrow)]


class SubnetLock:
    """Hold the locks of a topology's subnets from ``acquire`` to ``release``."""

    def __init__(self, subnets: Iterable[ipaddress.IPv4Network]) -> None:
        self.blocks = blocks(subnets)
        self.taken: list[str] = []

    def acquire(self) -> None:
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        for block, exclusive in self.blocks:
            with _guard:
                if block in _held:
                    fd, count = _held[block]
                    _held[block] = (fd, count + 1)
                    self.taken.append(block)
                    continue
            fd = os.open(LOCK_DIR / block.replace("/", "_"), os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)  # waits for an overlapping run
            with _guard:
                _held[block] = (fd, 1)
            self.taken.append(block)

    def release(self) -> None:
        for block in reversed(self.taken):
            with _guard:
                fd, count = _held[block]
                if count > 1:
                    _held[block] = (fd, count - 1)
                    continue
                del _held[block]
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self.taken = []
