"""A remote engine: the harness reaches Docker through DOCKER_HOST alone. Here the engine
is reached over TCP on loopback (a proxy to the local engine's socket), and smoke runs end
to end through it: nothing may depend on host paths, bind mounts or routes to containers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.core.engine import client

pytestmark = [pytest.mark.topology, pytest.mark.mta_subnets("10.212.0.0/24")]
DOCKER_SOCKET = "/var/run/docker.sock"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


@pytest.fixture
def tcp_engine() -> Iterator[tuple[str, list[int]]]:
    """tcp://127.0.0.1:PORT forwarding to the engine's unix socket; and a count of the
    connections made through it. Every connection is closed at the end."""
    if not Path(DOCKER_SOCKET).exists():
        pytest.skip(f"no engine socket at {DOCKER_SOCKET} to forward to")
    client()  # the engine answers
    loop = asyncio.new_event_loop()
    connections = [0]
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[0] += 1
        up_reader, up_writer = await asyncio.open_unix_connection(DOCKER_SOCKET)
        writers.extend((writer, up_writer))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def close_all() -> None:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()
        await asyncio.sleep(0)

    try:
        yield f"tcp://127.0.0.1:{port}", connections
    finally:
        asyncio.run_coroutine_threadsafe(close_all(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()


def test_smoke_runs_through_a_tcp_docker_host(
    tcp_engine: tuple[str, list[int]],
    scenario_copy: Callable[..., Path],
    labelled_objects: Callable[[str], list[str]],
) -> None:
    docker_host, connections = tcp_engine
    path = scenario_copy(subnet_to="10.212.0.")
    env = {**os.environ, "DOCKER_HOST": docker_host}
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(path), "--results", str(path.parent / "results")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed, 0 failed" in proc.stdout
    assert connections[0] > 0, "the run did not go through DOCKER_HOST"
    assert labelled_objects(path.stem) == []
