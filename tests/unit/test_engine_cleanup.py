"""Removal by label (``harness/core/engine.py``) against a fake engine: a run killed while it
was creating containers leaves a create that completes after the first listing; the run's
network is then retried once that container is gone, and reaping goes on until passes find
nothing even when the late container holds no endpoint. No Docker needed."""

from __future__ import annotations

import socket
from typing import Any

import docker.errors
import pytest

from harness.core import engine

RUN = {engine.LABEL_RUN: "r1"}


class FakeNetwork:
    def __init__(self, engine_: FakeEngine) -> None:
        self.engine = engine_
        self.name = "mh-r1-net"
        self.attrs = {"Labels": engine_.labels}

    def remove(self) -> None:
        if self.engine.attached and self.engine.containers_alive:
            raise docker.errors.APIError("error while removing network: network mh-r1-net has active endpoints")
        self.engine.networks_alive = False


class FakeContainer:
    def __init__(self, name: str, labels: dict[str, str]) -> None:
        self.id = name
        self.attrs = {"Labels": labels, "Names": [f"/{name}"]}


class FakeEngine:
    """One run: container 'a' is listed at once; 'late' appears after the first listing.

    With ``attached`` the containers hold endpoints on the run's network (it cannot go while
    one exists); without, 'late' is a created container that is not yet attached."""

    def __init__(self, labels: dict[str, str] = RUN, attached: bool = True) -> None:
        self.labels = labels
        self.attached = attached
        self.containers_alive = {"a"}
        self.listings = 0
        self.networks_alive = True
        self.api = self
        self.containers = self
        self.networks = self

    def list(self, **_: Any) -> list[Any]:
        if _.get("sparse"):  # containers.list
            self.listings += 1
            listed = [FakeContainer(n, self.labels) for n in sorted(self.containers_alive)]
            if self.listings == 1:
                self.containers_alive.add("late")  # the create in flight completes now
            return listed
        return [FakeNetwork(self)] if self.networks_alive else []

    def remove_container(self, container_id: str, **_: Any) -> None:
        self.containers_alive.discard(container_id)


def test_a_container_created_after_the_listing_does_not_keep_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEngine()
    monkeypatch.setattr(engine, "client", lambda: fake)
    monkeypatch.setattr(engine.time, "sleep", lambda _: None)
    removed = engine.remove_run("r1")
    assert removed == ["a", "late", "mh-r1-net"]
    assert not fake.containers_alive and not fake.networks_alive


def test_reaping_goes_on_until_passes_find_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    dead_run = {engine.LABEL_RUN: "r1", engine.LABEL_HOST: socket.gethostname(), engine.LABEL_PID: "x"}
    fake = FakeEngine(labels=dead_run, attached=False)
    monkeypatch.setattr(engine, "client", lambda: fake)
    sleeps: list[float] = []
    monkeypatch.setattr(engine.time, "sleep", sleeps.append)
    removed = engine.reap_orphans()
    assert removed == ["a", "mh-r1-net", "late"]
    assert not fake.containers_alive and not fake.networks_alive
    # pass 1 removes a and the network, pass 2 the late container, passes 3 and 4 find nothing
    assert fake.listings == 4 and len(sleeps) == 3


def test_reaping_with_nothing_left_behind_is_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEngine()  # RUN carries no host label: nothing of it is an orphan of this machine
    monkeypatch.setattr(engine, "client", lambda: fake)
    sleeps: list[float] = []
    monkeypatch.setattr(engine.time, "sleep", sleeps.append)
    assert engine.reap_orphans() == []
    assert fake.listings == 1 and sleeps == []
