"""Removal by label (``harness/core/engine.py``) against a fake engine: a run killed while it
was creating containers leaves a create that completes after the first listing; the run's
network is then retried once that container is gone. No Docker needed."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from harness.core import engine

RUN = {engine.LABEL_RUN: "r1"}


class FakeNetwork:
    def __init__(self, engine_: FakeEngine) -> None:
        self.engine = engine_
        self.name = "mh-r1-net"
        self.attrs = {"Labels": RUN}

    def remove(self) -> None:
        if self.engine.containers_alive:
            raise docker.errors.APIError("error while removing network: network mh-r1-net has active endpoints")
        self.engine.networks_alive = False


class FakeContainer:
    def __init__(self, name: str) -> None:
        self.id = name
        self.attrs = {"Labels": RUN, "Names": [f"/{name}"]}


class FakeEngine:
    """One run: container 'a' is listed at once; 'late' appears after the first listing."""

    def __init__(self) -> None:
        self.containers_alive = {"a"}
        self.listings = 0
        self.networks_alive = True
        self.api = self
        self.containers = self
        self.networks = self

    def list(self, **_: Any) -> list[Any]:
        if _.get("sparse"):  # containers.list
            self.listings += 1
            listed = [FakeContainer(n) for n in sorted(self.containers_alive)]
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
