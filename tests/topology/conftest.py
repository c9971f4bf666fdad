"""Helpers for hand-written topology tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.core import engine

ROOT = Path(__file__).resolve().parents[2]


def _labelled_objects(scenario: str) -> list[str]:
    """Names of every container and network the harness made for a scenario."""
    client = engine.client()
    selector = {"label": f"{engine.LABEL_SCENARIO}={scenario}"}
    # sparse: no inspection of each container, which fails for one another run removes meanwhile
    listed = client.containers.list(all=True, filters=selector, sparse=True)
    containers = [c.attrs["Names"][0].lstrip("/") for c in listed]
    networks = [n.name for n in client.networks.list(filters=selector)]
    return containers + networks


@pytest.fixture
def scenario_copy(tmp_path: Path) -> Callable[..., Path]:
    """Write a variant of a scenario under a unique name (so its objects can be told apart)."""

    def make(
        source: str = "smoke", subnet_from: str = "10.201.0.", subnet_to: str = "10.209.0.", extra: str = ""
    ) -> Path:
        text = (ROOT / "scenarios" / f"{source}.yaml").read_text()
        name = f"t-{uuid.uuid4().hex[:8]}"
        text = text.replace(f"name: {source}\n", f"name: {name}\n").replace(subnet_from, subnet_to)
        text = text.replace(subnet_from.replace(".", "\\."), subnet_to.replace(".", "\\.")) + extra
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        return path

    return make


@pytest.fixture
def labelled_objects() -> Callable[[str], list[str]]:
    """Names of every container and network the harness made for a scenario."""
    return _labelled_objects
