"""Print the capture sink's throughput: N messages over S concurrent SMTP sessions, on loopback.

    python benchmarks/sink_throughput.py [--messages 2000] [--sessions 10] [--runs 3] [--size 600]

The sink runs in this process (``harness.agent.sink.serve`` on 127.0.0.1, in an event loop
thread, as tests/unit/kinds/sink/test_sink_agent.py runs it), with its captures and session log in a
temporary folder. One smtplib client thread per session sends its share of the messages over
one connection (EHLO once, then MAIL, RCPT, DATA per message, QUIT). Each run is timed from
the first connection to the last QUIT, and the captures are counted: every message must have
its line. Client and sink share this process (and its GIL), so the figures are for the pair.

If Postfix's ``smtp-source`` and ``smtp-sink`` are on PATH, smtp-source also drives the
capture sink and then smtp-sink (Postfix's own, which keeps nothing), for comparison;
without them only the capture sink's figures are printed. Nothing but 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.agent.sink import serve

LOOPBACK = "127.0.0.1"
CLIENT_TIMEOUT_S = 60
TOOL_TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class Sink:
    """The capture sink on a free loopback port, in its own event loop thread."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.captures = folder / f"captures-{self.port}.jsonl"
        self.log = folder / f"sink-{self.port}.log"
        self.config: dict[str, Any] = {
            "hostname": "mx.bench.test",
            "ports": [self.port],
            "captures": str(self.captures),
            "log": str(self.log),
            "auth": None,
            "replies": [],
        }
        self.loop = asyncio.new_event_loop()
        self.servers: list[asyncio.AbstractServer] = []
        self.thread = threading.Thread(target=self._run, name="sink", daemon=True)
        self.started = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self.servers.extend(await serve(self.config, host=LOOPBACK))

        self.loop.run_until_complete(start())
        self.started.set()
        self.loop.run_forever()

    def __enter__(self) -> Sink:
        self.thread.start()
        if not self.started.wait(10):
            raise RuntimeError("the sink did not start within 10 s")
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            for server in self.servers:
                server.close()
                await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()

    def capture_count(self) -> int:
        if not self.captures.exists():
            return 0
        with self.captures.open("rb") as fh:
            return sum(1 for line in fh if line.startswith(b"{"))


def message(run: int, session: int, n: int, size: int) -> bytes:
    head = (
        f"From: bench@client.test\r\nTo: rcpt@bench.test\r\nSubject: bench {run}/{session}/{n}\r\n"
        f"Message-ID: <bench-{run}-{session}-{n}@client.test>\r\n\r\n"
    ).encode()
    line = b"x" * 70 + b"\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


def smtplib_session(port: int, run: int, session: int, count: int, size: int, errors: list[str]) -> None:
    try:
        with smtplib.SMTP(LOOPBACK, port, local_hostname="client.test", timeout=CLIENT_TIMEOUT_S) as client:
            client.ehlo()
            for n in range(count):
                client.sendmail("bench@client.test", ["rcpt@bench.test"], message(run, session, n, size))
    except (OSError, smtplib.SMTPException) as error:
        errors.append(f"session {session}: {error!r}")


def drive_with_smtplib(port: int, run: int, messages: int, sessions: int, size: int) -> float:
    """Seconds to send the messages, split over the sessions as evenly as they go."""
    shares = [messages // sessions + (1 if i < messages % sessions else 0) for i in range(sessions)]
    errors: list[str] = []
    threads = [
        threading.Thread(target=smtplib_session, args=(port, run, i, share, size, errors), name=f"client-{i}")
        for i, share in enumerate(shares)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CLIENT_TIMEOUT_S * 10)
    elapsed = time.monotonic() - started
    if errors or any(thread.is_alive() for thread in threads):
        raise RuntimeError(f"client errors: {errors or 'a session did not finish'}")
    return elapsed


def drive_with_smtp_source(port: int, messages: int, sessions: int, size: int) -> float:
    command = [
        "smtp-source",
        "-d",  # every session sends its messages over one connection
        *("-s", str(sessions), "-m", str(messages), "-l", str(size)),
        *("-f", "bench@client.test", "-t", "rcpt@bench.test", "-M", "client.test"),
        f"{LOOPBACK}:{port}",
    ]
    started = time.monotonic()
    subprocess.run(command, check=True, timeout=TOOL_TIMEOUT_S, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def report(label: str, messages: int, times: list[float]) -> None:
    rates = [messages / t for t in times]
    each = ", ".join(f"{t:.2f} s" for t in times)
    print(f"  {label:<34} median {statistics.median(times):6.2f} s  {messages / statistics.median(times):7.0f} msg/s")
    print(f"  {'':<34} runs: {each}  (best {max(rates):.0f} msg/s)")


def timed_runs(runs: int, one: Callable[[int], float]) -> list[float]:
    return [one(run) for run in range(runs)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000, help="messages per run (default 2000)")
    parser.add_argument("--sessions", type=int, default=10, help="concurrent SMTP sessions (default 10)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--size", type=int, default=600, help="approximate message size in bytes (default 600)")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.sessions < 1 or args.runs < 1 or args.sessions > args.messages:
        parser.error("need 1 <= sessions <= messages and runs >= 1")

    print(f"{args.messages} messages over {args.sessions} sessions, ~{args.size} bytes each, {args.runs} runs")
    with tempfile.TemporaryDirectory(prefix="sink-bench-") as tmp, Sink(Path(tmp)) as sink:
        # One short warm-up session: imports, first file opens, the loop's first accept.
        drive_with_smtplib(sink.port, -1, 1, 1, args.size)
        before = sink.capture_count()

        def one(run: int) -> float:
            return drive_with_smtplib(sink.port, run, args.messages, args.sessions, args.size)

        times = timed_runs(args.runs, one)
        captured = sink.capture_count() - before
        expected = args.messages * args.runs
        report("smtplib -> capture sink", args.messages, times)
        print(f"  {'':<34} captures written: {captured} of {expected}")
        if captured != expected:
            print("  CAPTURES MISSING")
            return 1

        tools = shutil.which("smtp-source") and shutil.which("smtp-sink")
        if not tools:
            print("  (smtp-source/smtp-sink not on PATH: no comparison with Postfix's smtp-sink)")
            return 0

        times = timed_runs(
            args.runs, lambda _run: drive_with_smtp_source(sink.port, args.messages, args.sessions, args.size)
        )
        report("smtp-source -> capture sink", args.messages, times)

    port = free_port()
    # smtp-sink's last argument is its listen backlog; as root it must be told whom to run as.
    run_as = ["-u", "nobody"] if os.geteuid() == 0 else []
    postfix_sink = subprocess.Popen(
        ["smtp-sink", *run_as, "-c", f"{LOOPBACK}:{port}", str(args.sessions * 2)], stdout=subprocess.DEVNULL
    )
    try:
        for _ in range(100):  # wait up to 5 s for it to listen
            try:
                socket.create_connection((LOOPBACK, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        times = timed_runs(
            args.runs, lambda _run: drive_with_smtp_source(port, args.messages, args.sessions, args.size)
        )
        report("smtp-source -> Postfix smtp-sink", args.messages, times)
        times = timed_runs(
            args.runs, lambda run: drive_with_smtplib(port, run, args.messages, args.sessions, args.size)
        )
        report("smtplib -> Postfix smtp-sink", args.messages, times)
    finally:
        postfix_sink.terminate()
        postfix_sink.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
