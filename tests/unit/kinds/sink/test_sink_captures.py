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


class GrowingStore(FakeContainer):
    """A capture store that grows between polls; counts the bytes each read hands over."""

    def __init__(self) -> None:
        super().__init__(b"")
        self.bytes_read: list[int] = []

    def read_bytes(self, path: str, since: int = 0) -> bytes | None:
        data = super().read_bytes(path, since)
        self.bytes_read.append(len(data or b""))
        return data


def test_ten_thousand_captures_polled_as_they_come_are_each_read_once() -> None:
    """Reads stay linear: every poll reads only what was written since the last one (plus
    the part of a line being written), so the bytes read add up to about the store's size,
    not to the square of the number of polls."""
    store, offset, seen = GrowingStore(), 0, []
    for batch in range(100):
        store.data = (store.data or b"") + b"".join(record(f"<{batch}.{n}@t>") for n in range(100))
        partial = store.data + b'{"message_id": "<being-writ'  # a capture half written
        store.data, whole = partial, store.data
        new, offset = SINK.captures(store, offset)  # type: ignore[arg-type]
        seen.extend(c["message_id"] for c in new)
        store.data = whole
    assert seen == [f"<{b}.{n}@t>" for b in range(100) for n in range(100)]
    assert offset == len(store.data or b"")
    one_batch = len(b"".join(record(f"<99.{n}@t>") for n in range(100)))
    assert max(store.bytes_read) <= one_batch + 64
    assert sum(store.bytes_read) <= offset + 100 * 64
