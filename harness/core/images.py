"""Node images: built from each kind's ``harness/kinds/<kind>/image/Dockerfile``, tagged by
content hash.

An unchanged Dockerfile (and context) is never rebuilt; a changed one always is, because
the tag is the hash of everything that goes into the build, the base image included.

The base is ``debian:<suite>-slim``. Where no registry can be reached, the base is
bootstrapped from Debian's mirror with ``mmdebstrap`` and ``docker import`` instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import docker.errors

from harness.core import engine
from harness.errors import ImageBuildError

log = logging.getLogger(__name__)

REPOSITORY = "mta-harness"
BOOTSTRAP_REPOSITORY = "mta-harness-base"
LOCK_PATH = Path(tempfile.gettempdir()) / "mta-harness-images.lock"


class ImageSource(Protocol):
    """What a node kind tells about its image (see ``harness.kinds.base.Kind``)."""

    @property
    def image(self) -> str: ...

    @property
    def image_dir(self) -> Path: ...

    def image_files(self) -> list[tuple[str, bytes]]: ...


@dataclass(frozen=True)
class ImageSpec:
    """What goes into one image: the kind's image folder and the files it adds."""

    kind: str
    suite: str
    folder: Path
    extra: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def of(cls, source: ImageSource, suite: str) -> ImageSpec:
        return cls(source.image, suite, source.image_dir, tuple(source.image_files()))

    def context_files(self) -> list[tuple[str, bytes]]:
        """(name in the build context, content), sorted: the input of the hash and the build."""
        if not (self.folder / "Dockerfile").is_file():
            raise ImageBuildError(f"no Dockerfile for kind '{self.kind}' at {self.folder}/Dockerfile")
        files: list[tuple[str, bytes]] = []
        for path in sorted(self.folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files.append((str(path.relative_to(self.folder)), path.read_bytes()))
        files.extend(self.extra)
        return sorted(files)

    def tag(self, base: str) -> str:
        digest = hashlib.sha256()
        digest.update(f"{self.kind}\0{self.suite}\0{base}\0".encode())
        for name, content in self.context_files():
            digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
        return f"{REPOSITORY}/{self.kind}:{self.suite}-{digest.hexdigest()[:12]}"


def _progress(text: str) -> None:
    sys.stderr.write(f"[mta-harness] {text}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """One build at a time across processes (parallel test workers share images)."""
    with open(LOCK_PATH, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _image_exists(name: str) -> bool:
    try:
        engine.client().images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def resolve_base(suite: str) -> str:
    """The base image for ``suite``: the registry's slim image, or a bootstrapped one."""
    official = f"debian:{suite}-slim"
    bootstrapped = f"{BOOTSTRAP_REPOSITORY}:{suite}"
    override = os.environ.get("MTA_HARNESS_BASE_IMAGE")
    if override:
        return override.format(suite=suite)
    for name in (official, bootstrapped):
        if _image_exists(name):
            return name
    if os.environ.get("MTA_HARNESS_NO_PULL") != "1":
        try:
            _progress(f"pulling {official}")
            engine.client().images.pull("debian", tag=f"{suite}-slim")
            return official
        except docker.errors.APIError as exc:
            _progress(
                f"cannot pull {official} ({str(exc).splitlines()[0][:120]}); bootstrapping it from Debian's mirror"
            )
    bootstrap_base(suite, bootstrapped)
    return bootstrapped


def bootstrap_base(suite: str, name: str) -> None:
    """Make a base image without a registry: mmdebstrap a minimal Debian, then import it."""
    if shutil.which("mmdebstrap") is None:
        raise ImageBuildError(
            f"cannot pull debian:{suite}-slim and mmdebstrap is not installed to bootstrap it; "
            "install mmdebstrap (apt-get install mmdebstrap) or make the image available to the engine"
        )
    with tempfile.TemporaryDirectory(prefix="mta-harness-base-") as tmp:
        tarball = Path(tmp) / f"{suite}.tar"
        started = time.monotonic()
        _progress(f"bootstrapping {name} with mmdebstrap (this takes about a minute)")
        proc = subprocess.run(
            ["mmdebstrap", "--variant=apt", "--include=ca-certificates", suite, str(tarball)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ImageBuildError(f"mmdebstrap {suite} failed:\n{proc.stderr[-3000:]}")
        repository, _, tag = name.rpartition(":")
        engine.client().api.import_image_from_file(str(tarball), repository=repository, tag=tag)
        _progress(f"bootstrapped {name} in {time.monotonic() - started:.0f} s")


def ensure_image(source: ImageSource, suite: str, rebuild: bool = False) -> str:
    """The tag of the image of a kind on ``suite``, building it if it is missing.

    ``rebuild`` builds it again without the engine's layer cache (a cold build).
    """
    spec = ImageSpec.of(source, suite)
    with _build_lock():
        base = resolve_base(suite)
        tag = spec.tag(base)
        if _image_exists(tag) and not rebuild:
            return tag
        _build(spec, base, tag, no_cache=rebuild)
        return tag


def _build(spec: ImageSpec, base: str, tag: str, no_cache: bool = False) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in spec.context_files():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    buffer.seek(0)
    _progress(f"building {tag} FROM {base}")
    started = time.monotonic()
    output: list[str] = []
    stream = engine.client().api.build(
        fileobj=buffer,
        custom_context=True,
        tag=tag,
        buildargs={"BASE": base},
        labels={engine.LABEL_KIND: spec.kind, f"{engine.LABEL_PREFIX}.suite": spec.suite},
        rm=True,
        forcerm=True,
        nocache=no_cache,
        decode=True,
    )
    for chunk in stream:
        if "error" in chunk:
            raise ImageBuildError(f"building {tag} failed: {chunk['error']}\n" + "".join(output[-30:]))
        text = chunk.get("stream", "")
        if text:
            output.append(text)
            if text.startswith("Step "):
                _progress(f"  {spec.kind}/{spec.suite}: {text.strip()}")
    _progress(f"built {tag} in {time.monotonic() - started:.0f} s")
