"""Packet capture sidecars: the SMTP sessions of a topology, recorded where they arrive.

With transcripts on (the scenario key ``transcripts: true``, ``mta-harness run
--transcripts``, pytest's ``--mta-transcripts``), every node that serves SMTP (an MTA or a
sink) gets a sidecar container that shares its network namespace (``network_mode
"container:<node>"``) and runs Debian's tcpdump on all of its interfaces, writing every TCP
packet to a pcap file inside the sidecar. The node itself is not touched: no tool in its
image, no process, no setting, no capability is added to it, so it works with any image, a
user's own included, and the MTA does what it would do without it.
``harness.observe.transcripts`` reads the files into SMTP dialogues.

The sidecar's image is built once, on one suite (it observes, it is not under test), like
the node images: from ``capture_image/Dockerfile``, tagged by content hash. It carries the
run's labels, so that teardown and the reaping of a killed run remove it with the nodes.

A stopped node loses its network namespace; when it starts again the sidecar is restarted
to join the new one, and writes a new file (the old one is kept).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import ClassVar

import docker.errors
from docker.models.containers import Container

from harness.core import engine
from harness.core.container import NodeContainer
from harness.core.waits import Poll, poll_until
from harness.errors import HarnessError
from harness.scenario.model import DEFAULT_SUITE

CAPTURE_DIR = "/capture"
# Which node a sidecar records (not LABEL_NODE: a sidecar is no node of the topology).
LABEL_CAPTURE_OF = f"{engine.LABEL_PREFIX}.capture-of"
# tcpdump says this on stderr once its capture is open: from then on nothing is missed.
LISTENING = "listening on"
START_TIMEOUT = 20.0
# -i any: every interface, those a reconnect adds too; -p: no promiscuous mode; -U and
# --immediate-mode: each packet is in the file as soon as it is seen (a failure report reads
# the file while the capture runs); -Z root: tcpdump keeps the user that created the folder;
# one file per start, named by the time.
# -s 65600 -B 16384: whole packets (an IP packet is at most 65,535 bytes, the cooked header
# 20) in a 16 MiB ring. In immediate mode libpcap gives each packet a ring frame of the
# snapshot length; with the default (-s 0, 262,144 bytes, and a 2 MiB ring) that is room for
# about 8 packets, and a loaded machine overflowed it: measured, 1 packet "dropped by kernel" at a
# relay-store store, and 13 % of a 2,000-message burst, against 2.7 % with these.
CAPTURE_SNAPLEN = 65600
CAPTURE_BUFFER_KIB = 16384
CAPTURE_SCRIPT = (
    f"mkdir -p {CAPTURE_DIR} && exec tcpdump -i any -p -U --immediate-mode -n -s {CAPTURE_SNAPLEN} "
    f'-B {CAPTURE_BUFFER_KIB} -Z root -w "{CAPTURE_DIR}/$(date +%s%N).pcap" tcp'
)


class CaptureImage:
    """The sidecar's image, as ``harness.core.images.ensure_image`` builds it."""

    image: ClassVar[str] = "capture"
    image_dir: ClassVar[Path] = Path(__file__).resolve().with_name("capture_image")
    suite: ClassVar[str] = DEFAULT_SUITE

    def image_files(self) -> list[tuple[str, bytes]]:
        return []


CAPTURE_IMAGE = CaptureImage()


class Sidecar:
    """The packet capture of one node."""

    def __init__(self, node: str, target: NodeContainer, image: str, labels: dict[str, str]) -> None:
        self.node = node
        self.target = target
        self.image = image
        self.labels = {**labels, LABEL_CAPTURE_OF: node}
        self.name = f"{target.name}-capture"
        self._container: Container | None = None

    @property
    def container(self) -> Container:
        if self._container is None:
            raise HarnessError(f"the capture of {self.node} was not started")
        return self._container

    def start(self) -> None:
        """Start capturing; return once tcpdump listens."""
        self._container = engine.client().containers.run(
            self.image,
            ["sh", "-c", CAPTURE_SCRIPT],
            name=self.name,
            detach=True,
            network_mode=f"container:{self.target.container.id}",
            cap_add=["NET_RAW", "NET_ADMIN"],
            labels=self.labels,
        )
        self._wait_listening(1)

    def restart(self) -> None:
        """Capture again in the node's current network namespace (after the node restarted)."""
        before = self._listening()
        self.container.restart(timeout=1)
        self._wait_listening(before + 1)

    def _listening(self) -> int:
        try:
            return int(self.container.logs().decode("utf-8", "replace").count(LISTENING))
        except docker.errors.NotFound:
            return 0

    def _wait_listening(self, times: int) -> None:
        def check() -> Poll[int]:
            self.container.reload()
            seen = self._listening()
            return Poll(seen >= times or self.container.status == "exited", seen)

        poll_until(check, START_TIMEOUT, interval=0.05, max_interval=0.2)
        if self._listening() < times:
            output = self.container.logs().decode("utf-8", "replace").strip()[-1000:]
            raise HarnessError(
                f"the packet capture of {self.node} ({self.name}) did not start within {START_TIMEOUT:.0f} s "
                f"(status {self.container.status}): {output or 'no output'}"
            )

    def pcaps(self, attempts: int = 3) -> list[bytes]:
        """Every capture file so far, oldest first (read while it runs, or after it stopped).

        A file that grows while the engine archives it can cut the archive short: it is
        read again."""
        for attempt in range(attempts):
            try:
                return self._read_pcaps()
            except (docker.errors.APIError, tarfile.TarError, OSError) as exc:
                if attempt == attempts - 1:
                    raise HarnessError(f"cannot read the packet capture of {self.node} ({self.name}): {exc}") from exc
        return []

    def _read_pcaps(self) -> list[bytes]:
        stream, _ = self.container.get_archive(CAPTURE_DIR)
        files: list[tuple[str, bytes]] = []
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            for member in tar:
                fh = tar.extractfile(member) if member.isfile() and member.name.endswith(".pcap") else None
                if fh is not None:
                    files.append((member.name, fh.read()))
        if not files:
            raise HarnessError(f"no capture file in {self.name}:{CAPTURE_DIR}")
        return [data for _, data in sorted(files)]
