"""Calling the harness's agent programs inside a node (``harness/agent``): a request as a JSON
file, the program run with one exec, its answer as the last line of its output (JSON)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from harness.errors import StepError

if TYPE_CHECKING:
    from harness.topology.node import NodeHandle


def agent_answer(handle: NodeHandle, what: str, output: str) -> dict[str, Any]:
    """The JSON object an agent printed last; its whole output's end when there is none."""
    try:
        return dict(json.loads(output.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        raise StepError(f"the {what} on {handle.name} failed: {output.strip()[-800:]}") from None


def call_agent(handle: NodeHandle, what: str, path: str, request: dict[str, Any], command: list[str]) -> dict[str, Any]:
    """Write ``request`` to ``path`` in the node (readable by root only: it may hold
    passwords), run ``command`` there, and return the agent's answer."""
    handle.container.put_files([(path, json.dumps(request), 0o600)])
    return agent_answer(handle, what, handle.container.exec(command).output)
