"""Topologies whose subnets overlap cannot be up at once on one engine. Parallel runs
(pytest-xdist workers, several shells) take a lock per /16 block their subnets touch, so an
overlapping topology waits for the other to come down instead of failing, whatever
scheduled the runs. A process holds its own locks once, however many topologies it starts.
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


def blocks(subnets: Iterable[ipaddress.IPv4Network]) -> list[str]:
    """The /16 blocks the subnets touch, sorted (locks are always taken in this order)."""
    found: set[str] = set()
    for subnet in subnets:
        if subnet.prefixlen >= 16:
            found.add(str(subnet.supernet(new_prefix=16)))
        else:
            found.update(str(block) for block in subnet.subnets(new_prefix=16))
    return sorted(found, key=lambda b: ipaddress.IPv4Network(b))


class SubnetLock:
    """Hold the locks of a topology's subnets from ``acquire`` to ``release``."""

    def __init__(self, subnets: Iterable[ipaddress.IPv4Network]) -> None:
        self.blocks = blocks(subnets)
        self.taken: list[str] = []

    def acquire(self) -> None:
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        for block in self.blocks:
            with _guard:
                if block in _held:
                    fd, count = _held[block]
                    _held[block] = (fd, count + 1)
                    self.taken.append(block)
                    continue
            fd = os.open(LOCK_DIR / block.replace("/", "_"), os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits while another process has a topology there
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
