"""The Docker engine: one client, the harness's labels, and reaping what a killed run left.

Every container and network the harness creates carries ``LABEL_RUN`` (the run's id),
``LABEL_PID`` (the creating process) and ``LABEL_HOST``. At the next start, objects whose
creating process on this machine is gone are removed.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

import docker
import docker.errors
from docker import DockerClient

from harness.errors import EngineUnavailable

log = logging.getLogger(__name__)

LABEL_PREFIX = "io.mta-harness"
LABEL_RUN = f"{LABEL_PREFIX}.run"
LABEL_PID = f"{LABEL_PREFIX}.pid"
LABEL_HOST = f"{LABEL_PREFIX}.host"
LABEL_SCENARIO = f"{LABEL_PREFIX}.scenario"
LABEL_NODE = f"{LABEL_PREFIX}.node"
LABEL_KIND = f"{LABEL_PREFIX}.kind"
LABEL_KEEP = f"{LABEL_PREFIX}.keep"  # set on topologies left up on purpose


@functools.lru_cache(maxsize=1)
def client() -> DockerClient:
    """The shared Docker client; raises :class:`EngineUnavailable` with a fix if none answers."""
    try:
        docker_client = docker.from_env(timeout=120)
        docker_client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise EngineUnavailable(
            f"no Docker engine answers ({exc}); start one (e.g. 'dockerd &' as root, or Docker Desktop) "
            "or set DOCKER_HOST"
        ) from exc
    return docker_client


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]


def run_labels(run_id: str, scenario: str) -> dict[str, str]:
    return {
        LABEL_RUN: run_id,
        LABEL_PID: str(os.getpid()),
        LABEL_HOST: socket.gethostname(),
        LABEL_SCENARIO: scenario,
    }


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _orphaned(labels: dict[str, str]) -> bool:
    if labels.get(LABEL_KEEP) == "true":
        return False
    if labels.get(LABEL_HOST) != socket.gethostname():
        return False
    try:
        pid = int(labels.get(LABEL_PID, ""))
    except ValueError:
        return True
    return not _process_alive(pid)


REMOVE_PASSES = 4
# Reaping keeps passing, briefly apart, until this many passes in a row find nothing: a
# killed run's create request may complete in the engine after a pass has listed, as a
# container not yet attached to any network.
REAP_QUIET_PASSES = 2
REAP_MAX_PASSES = 8
PASS_INTERVAL = 0.5


def reap_orphans() -> list[str]:
    """Remove containers and networks of harness runs whose process has died."""
    return remove_labelled(_orphaned, settle=True)


def remove_run(run_id: str) -> list[str]:
    """Remove every container and network of one run."""
    return remove_labelled(lambda labels: labels.get(LABEL_RUN) == run_id)


def remove_scenario(scenario: str | None) -> list[str]:
    """Remove every topology of a scenario (all scenarios when None), kept ones included."""
    return remove_labelled(lambda labels: scenario is None or labels.get(LABEL_SCENARIO) == scenario)


def remove_labelled(select: Callable[[dict[str, str]], bool], settle: bool = False) -> list[str]:
    """Remove the selected runs' containers, then their networks.

    A run killed while it was creating containers may leave a create request in the
    engine that completes after the listing: its network then still has an endpoint, or
    (a created container is attached only when it starts) the container outlives its
    network. A busy network is retried after another pass over the containers (a few,
    briefly apart). With ``settle``, for runs that were killed, passes continue after any
    pass that removed something until ``REAP_QUIET_PASSES`` in a row find nothing."""
    removed: list[str] = []
    passes = REAP_MAX_PASSES if settle else REMOVE_PASSES
    quiet = 0
    for attempt in range(passes):
        before = len(removed)
        busy = _remove_pass(select, removed, last=attempt == passes - 1)
        quiet = 0 if busy or len(removed) > before else quiet + 1
        done = (not removed or quiet >= REAP_QUIET_PASSES) if settle else not busy
        if done:
            break
        time.sleep(PASS_INTERVAL)
    if removed:
        log.info("removed %d leftover object(s): %s", len(removed), ", ".join(removed))
    return removed


def _remove_pass(select: Callable[[dict[str, str]], bool], removed: list[str], last: bool) -> bool:
    """One pass; True if a network could not go because it still had endpoints."""
    docker_client = client()
    runs: set[str] = set()
    # sparse: no per-container inspection, so a container another run removes meanwhile
    # cannot make the listing fail.
    for container in docker_client.containers.list(all=True, filters={"label": LABEL_RUN}, sparse=True):
        labels = container.attrs.get("Labels") or {}
        if select(labels):
            runs.add(labels.get(LABEL_RUN, ""))
            try:
                docker_client.api.remove_container(container.id, force=True, v=True)
                removed.append(container.attrs.get("Names", [container.id])[0].lstrip("/"))
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if "already in progress" not in str(exc):
                    raise
    busy = False
    for network in docker_client.networks.list(filters={"label": LABEL_RUN}):
        labels = network.attrs.get("Labels") or {}
        if select(labels) or labels.get(LABEL_RUN) in runs:
            try:
                network.remove()
                removed.append(network.name)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if "active endpoints" in str(exc) and not last:
                    busy = True
                else:
                    log.warning("could not remove network %s: %s", network.name, exc)
    return busy
