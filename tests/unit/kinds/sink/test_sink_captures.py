"""Reading a sink's capture store: from a running or a stopped container, only what is new,
and never an empty list where the store cannot be read."""

from __future__ import annotations

import json

import pytest

from harness.errors import StepError
from harness.kinds.sink import KIND as SINK
from harness.kinds.sink.render import CAPTURES


class FakeContainer:
    """A container whose capture file is bytes in memory (None: it cannot be read)."""

    name = "mh-test-mx"

    def __init__(self, data: bytes | None, status: str = "running") -> None:
        self.data = data
        self._status = status
        self.reads: list[tuple[str, int]] = []

    def status(self) -> str:
        return self._status

    def read_bytes(self, path: str, since: int = 0) -> bytes | None:
        self.reads.append((path, since))
        return None if self.data is None else self.data[since:]


def record(message_id: str) -> bytes:
    return json.dumps({"message_id": message_id, "peer": "10.201.0.10"}).encode() + b"\n"


def test_an_unreadable_capture_store_is_an_error_not_an_empty_list() -> None:
    with pytest.raises(StepError, match=f"the capture store {CAPTURES} cannot be read"):
        SINK.captures(FakeContainer(None))  # type: ignore[arg-type]


def test_a_stopped_sinks_captures_are_read_too() -> None:
    captures, _ = SINK.captures(FakeContainer(record("<a@t>"), status="exited"))  # type: ignore[arg-type]
    assert [c["message_id"] for c in captures] == ["<a@t>"]


def test_only_what_is_new_is_read_and_a_line_being_written_waits() -> None:
    container = FakeContainer(record("<a@t>") + b'{"message_id": "<b')
    first, offset = SINK.captures(container)  # type: ignore[arg-type]
    assert [c["message_id"] for c in first] == ["<a@t>"] and offset == len(record("<a@t>"))
    container.data = record("<a@t>") + record("<b@t>")
    second, offset = SINK.captures(container, offset)  # type: ignore[arg-type]
    assert [c["message_id"] for c in second] == ["<b@t>"]
    assert container.reads == [(CAPTURES, 0), (CAPTURES, len(record("<a@t>")))]
