"""What the harness copies into a node: paths, modes and a modification time a reloading
daemon can compare with its last load."""

from __future__ import annotations

import io
import tarfile
from typing import Any, cast

import pytest

from harness.core import container as container_module
from harness.core.container import NodeContainer
from harness.errors import HarnessError


class ArchiveTaker:
    """Stands for a docker container: keeps the archives put into it."""

    def __init__(self, accepts: bool = True) -> None:
        self.name = "mh-test-node"
        self.archives: list[tuple[str, bytes]] = []
        self.accepts = accepts

    def put_archive(self, path: str, data: bytes) -> bool:
        self.archives.append((path, data))
        return self.accepts


def _members(data: bytes) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: (m, cast(io.BufferedReader, tar.extractfile(m)).read()) for m in tar.getmembers()}


def test_files_keep_their_path_mode_and_content() -> None:
    taker = ArchiveTaker()
    NodeContainer.existing(cast(Any, taker), []).put_files(
        [("/etc/bind/harness/a.zone", "zone text\n", 0o644), ("/etc/harness/start.sh", b"#!/bin/sh\n", 0o755)]
    )
    [(root, data)] = taker.archives
    members = _members(data)
    assert root == "/"
    assert set(members) == {"etc/bind/harness/a.zone", "etc/harness/start.sh"}
    zone, text = members["etc/bind/harness/a.zone"]
    assert (zone.mode, text) == (0o644, b"zone text\n")
    script, text = members["etc/harness/start.sh"]
    assert (script.mode, text) == (0o755, b"#!/bin/sh\n")


def test_a_file_is_stamped_with_the_time_to_below_the_second(monkeypatch: pytest.MonkeyPatch) -> None:
    # A zone file written 0.75 s into a second in which named loaded the zone must not look
    # older than that load (a time cut to the second did: 'zone reload up-to-date').
    monkeypatch.setattr(container_module.time, "time", lambda: 1_796_375_176.75)
    taker = ArchiveTaker()
    NodeContainer.existing(cast(Any, taker), []).put_files([("/etc/bind/harness/a.zone", "z\n", 0o644)])
    member, _ = _members(taker.archives[0][1])["etc/bind/harness/a.zone"]
    assert member.mtime == pytest.approx(1_796_375_176.75, abs=1e-6)


def test_a_refused_copy_is_an_error() -> None:
    with pytest.raises(HarnessError, match="could not copy files into mh-test-node"):
        NodeContainer.existing(cast(Any, ArchiveTaker(accepts=False)), []).put_files([("/x", "", 0o644)])
