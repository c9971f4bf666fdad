"""Parallel runs keep overlapping topologies apart twice over: pytest-xdist runs tests whose
subnets overlap on one worker, and a topology takes a lock per /16 block of its subnets, so
that whatever schedules the runs, two overlapping topologies are never up at once."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.core import subnets
from harness.core.subnets import SubnetLock

pytest_plugins = ("pytester",)


def nets(*texts: str) -> list[ipaddress.IPv4Network]:
    return [ipaddress.IPv4Network(t) for t in texts]


def test_locks_in_one_order_narrow_subnets_share_their_16() -> None:
    assert subnets.blocks(nets("10.210.2.0/24", "10.201.0.0/24", "10.210.1.128/25")) == [
        ("10.201.0.0/16", False),
        ("10.210.0.0/16", False),
        ("10.201.0.0/24", True),
        ("10.210.1.0/24", True),
        ("10.210.2.0/24", True),
    ]
    assert subnets.blocks(nets("10.210.0.0/20", "10.210.3.0/24")) == [("10.210.0.0/16", True), ("10.210.3.0/24", True)]
    assert len(subnets.blocks(nets("10.0.0.0/8"))) == 256


def _try_lock_elsewhere(lock_dir: Path, subnet: str) -> int:
    """Take a subnet's locks from another process without waiting; 0: it got them all, 1: one is taken."""
    code = textwrap.dedent(f"""
        import fcntl, ipaddress, os, sys
        from harness.core import subnets
        for block, exclusive in subnets.blocks([ipaddress.IPv4Network({subnet!r})]):
            fd = os.open(os.path.join({str(lock_dir)!r}, block.replace("/", "_")), os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            except BlockingIOError:
                sys.exit(1)
    """)
    return subprocess.run([sys.executable, "-c", code], check=False).returncode


def test_an_overlapping_topology_of_another_process_waits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subnets, "LOCK_DIR", tmp_path)
    lock = SubnetLock(nets("10.201.0.0/24"))
    lock.acquire()
    try:
        assert _try_lock_elsewhere(tmp_path, "10.201.0.128/25") == 1  # overlaps: waits
        assert _try_lock_elsewhere(tmp_path, "10.201.0.0/20") == 1  # contains it: waits
        assert _try_lock_elsewhere(tmp_path, "10.201.5.0/24") == 0  # same /16, no overlap: runs
        assert _try_lock_elsewhere(tmp_path, "10.202.0.0/24") == 0
        again = SubnetLock(nets("10.201.0.0/24"))  # the same process: no wait
        again.acquire()
        again.release()
        assert _try_lock_elsewhere(tmp_path, "10.201.0.128/25") == 1
    finally:
        lock.release()
    assert _try_lock_elsewhere(tmp_path, "10.201.0.128/25") == 0


def test_tests_whose_subnets_overlap_run_on_one_xdist_worker(pytester: pytest.Pytester) -> None:
    """Fails where --dist loadgroup silently stops grouping (pytest-dev/pytest-xdist#1386)."""
    pytester.makepyfile(
        test_grouped="""
        import os, pytest, time

        @pytest.mark.mta_subnets("10.201.0.0/24")
        @pytest.mark.parametrize("i", range(4))
        def test_a(i):
            time.sleep(0.2)
            print("WORKER", os.environ["PYTEST_XDIST_WORKER"])

        @pytest.mark.mta_subnets("10.201.0.128/25")
        @pytest.mark.parametrize("i", range(4))
        def test_b(i):
            time.sleep(0.2)
            print("WORKER", os.environ["PYTEST_XDIST_WORKER"])
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)
    workers = {line.split("]")[0].strip("[") for line in result.outlines if "PASSED" in line and line.startswith("[gw")}
    assert len(workers) == 1, result.outlines
    assert any("@net-10.201.0.0/24" in line for line in result.outlines), "the group is not in the node ids"
