"""One node's container: created with testcontainers, attached to the topology's networks
with fixed addresses, reached only through ``docker exec`` and archive copies.

Nothing is published on the host: the harness reads and writes inside containers, so it
works the same where container addresses are not routable from the host (Docker Desktop, a
remote engine through ``DOCKER_HOST``).

What testcontainers is used for, and what not (decided, not inherited):

- used: creating and starting the container (``DockerContainer``) and its Ryuk reaper where
  the engine has the Ryuk image, so that a container outlives no crashed test process;
- not used: its waits (``wait_for_logs``, port waits) poll from the host, through published
  ports or host routes; the harness's waits run inside the node (``harness.core.waits``),
  which works without either, and stop at once when the container exits;
- not used: its ``Network``: topology networks need explicit subnets, ``internal`` and the
  harness's labels, which it does not offer; they are made with the Docker SDK
  (``harness.topology.networks``), and reaped by label like the containers.
"""

from __future__ import annotations

import io
import logging
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import docker.errors
from docker.models.containers import Container
from docker.types import EndpointConfig
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer

from harness.core import engine
from harness.errors import HarnessError

log = logging.getLogger(__name__)


def configure_testcontainers() -> None:
    """Use testcontainers' Ryuk reaper only where its image is at hand (no registry here);
    the harness reaps by label itself either way."""
    if testcontainers_config._ryuk_disabled is not None:
        return
    try:
        engine.client().images.get(testcontainers_config.ryuk_image)
        testcontainers_config.ryuk_disabled = False
    except docker.errors.ImageNotFound:
        testcontainers_config.ryuk_disabled = True


ENTRY_SCRIPT = Path(__file__).with_name("entry.sh")


@dataclass(frozen=True)
class ExecResult:
    code: int
    output: str

    @property
    def ok(self) -> bool:
        return self.code == 0


class NodeContainer:
    """A running container of one node."""

    def __init__(
        self,
        name: str,
        image: str,
        hostname: str,
        labels: dict[str, str],
        attachments: list[tuple[str, str, str | None]],  # (docker network name, IPv4, IPv6 or None)
    ) -> None:
        self.name = name
        self.attachments = attachments
        first_net, first_ip, first_ip6 = attachments[0]
        api_version = engine.client().api.api_version
        self._tc = (
            DockerContainer(image)
            .with_name(name)
            .with_kwargs(
                hostname=hostname,
                labels=labels,
                init=True,
                # The harness's own main process, whatever the image (user-supplied images too).
                entrypoint=["/bin/sh", "-c", ENTRY_SCRIPT.read_text()],
                cap_add=["NET_ADMIN"],  # to drop the default route Docker adds on internal networks
                # IPv6 on loopback, so that local clients can use [::1] as on a host; the engine
                # turns it on for the interfaces of dual-stack networks only (IPv4-only
                # networks' interfaces keep IPv6 off: no address, no route).
                sysctls={"net.ipv6.conf.lo.disable_ipv6": "0"},
                network=first_net,
                networking_config={
                    first_net: EndpointConfig(api_version, ipv4_address=first_ip, ipv6_address=first_ip6)
                },
                stop_signal="SIGTERM",
            )
        )
        self._container: Container | None = None

    @classmethod
    def existing(cls, container: Container, attachments: list[tuple[str, str, str | None]]) -> NodeContainer:
        """Wrap a container that already runs (a topology left up by 'mta-harness up')."""
        self = cls.__new__(cls)
        self.name = container.name
        self.attachments = attachments
        self._container = container
        return self

    # ---- lifecycle -----------------------------------------------------------------------
    def create(self) -> None:
        configure_testcontainers()
        self._tc.start()
        self._container = self._tc.get_wrapped_container()
        for net_name, ip, ip6 in self.attachments[1:]:
            engine.client().networks.get(net_name).connect(self.container, ipv4_address=ip, ipv6_address=ip6)

    @property
    def container(self) -> Container:
        if self._container is None:
            raise HarnessError(f"container {self.name} was not created")
        return self._container

    def image_id(self) -> str:
        """The id of the image the container runs."""
        return str(self.container.attrs.get("Image", ""))

    def status(self) -> str:
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return "removed"
        return str(self.container.status)

    def stop(self) -> None:
        self.container.stop(timeout=2)

    def start(self) -> None:
        self.container.start()

    def disconnect(self, network: str) -> None:
        engine.client().networks.get(network).disconnect(self.container, force=True)

    def reconnect(self, network: str, ip: str, ip6: str | None = None) -> None:
        engine.client().networks.get(network).connect(self.container, ipv4_address=ip, ipv6_address=ip6)

    # ---- inside the container --------------------------------------------------------------
    def exec(self, command: list[str] | str) -> ExecResult:
        code, output = self.exec_bytes(command)
        return ExecResult(code, output.decode("utf-8", "replace"))

    def exec_bytes(self, command: list[str] | str) -> tuple[int, bytes]:
        """Run a command inside; its exit code and output (stdout and stderr) as bytes."""
        argv = ["sh", "-c", command] if isinstance(command, str) else command
        try:
            code, output = self.container.exec_run(argv, demux=False)
        except docker.errors.APIError as exc:
            return 126, f"exec failed: {exc.explanation or exc}".encode()
        return int(code if code is not None else -1), output or b""

    def put_files(self, files: Iterable[tuple[str, bytes | str, int]]) -> None:
        """Copy (absolute path, content, mode) into the container, creating folders.

        Each file's modification time is now, to the nanosecond the archive can carry (PAX):
        a daemon that reloads a file only when it is newer than its last load (BIND's
        ``rndc reload``) would take a time cut to the second for an old file."""
        buffer = io.BytesIO()
        now = time.time()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path, content, mode in files:
                data = content.encode() if isinstance(content, str) else content
                info = tarfile.TarInfo(path.lstrip("/"))
                info.size = len(data)
                info.mode = mode
                info.mtime = now
                tar.addfile(info, io.BytesIO(data))
        buffer.seek(0)
        if not self.container.put_archive("/", buffer.getvalue()):
            raise HarnessError(f"could not copy files into {self.name}")

    def read_file(self, path: str) -> str:
        """A file's text, or '' when it does not exist."""
        data = self.read_bytes(path)
        return data.decode("utf-8", "replace") if data is not None else ""

    def read_bytes(self, path: str, since: int = 0) -> bytes | None:
        """A file's bytes from offset ``since``, or None when it does not exist or cannot be
        read. A running container is read with ``tail`` (only what is new travels); a
        stopped one from its filesystem (an archive copy works on stopped containers)."""
        if since and self.status() == "running":
            code, output = self.exec_bytes(["tail", "-c", f"+{since + 1}", path])
            return output if code == 0 else None
        try:
            stream, _ = self.container.get_archive(path)
        except (docker.errors.NotFound, docker.errors.APIError):
            return None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            if member is None or not member.isfile():
                return None
            fh = tar.extractfile(member)
            return fh.read()[since:] if fh else None

    def logs(self) -> str:
        try:
            return str(self.container.logs().decode("utf-8", "replace"))
        except docker.errors.NotFound:
            return ""
