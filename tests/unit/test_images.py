"""Image tags are content hashes: an unchanged context keeps its tag, any change gets a new one."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core import images
from harness.errors import ImageBuildError
from harness.kinds import KINDS


@pytest.fixture
def images_dir(tmp_path: Path) -> Path:
    (tmp_path / "postfix").mkdir()
    (tmp_path / "postfix" / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nRUN true\n")
    return tmp_path


def spec_of(images_dir: Path, kind: str, suite: str) -> images.ImageSpec:
    return images.ImageSpec(kind, suite, images_dir / kind)


def test_the_tag_names_kind_suite_and_a_hash(images_dir: Path) -> None:
    tag = spec_of(images_dir, "postfix", "bookworm").tag("debian:bookworm-slim")
    assert tag.startswith("mta-harness/postfix:bookworm-")
    assert len(tag.rsplit("-", 1)[1]) == 12


def test_an_unchanged_context_keeps_its_tag(images_dir: Path) -> None:
    spec = spec_of(images_dir, "postfix", "bookworm")
    assert spec.tag("debian:bookworm-slim") == spec.tag("debian:bookworm-slim")


def test_a_changed_dockerfile_extra_file_suite_or_base_changes_the_tag(images_dir: Path) -> None:
    spec = spec_of(images_dir, "postfix", "bookworm")
    before = spec.tag("debian:bookworm-slim")
    assert spec_of(images_dir, "postfix", "trixie").tag("debian:bookworm-slim") != before
    assert spec.tag("mta-harness-base:bookworm") != before
    (images_dir / "postfix" / "extra.conf").write_text("x\n")
    with_extra = spec.tag("debian:bookworm-slim")
    assert with_extra != before
    (images_dir / "postfix" / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nRUN false\n")
    assert spec.tag("debian:bookworm-slim") not in (before, with_extra)


def test_the_sink_image_carries_the_agent_programs() -> None:
    names = [name for name, _ in images.ImageSpec.of(KINDS["sink"], "bookworm").context_files()]
    assert {"Dockerfile", "agent/sink.py", "agent/smtp_send.py", "agent/dns_query.py"} <= set(names)
    # the client runs the same image
    assert images.ImageSpec.of(KINDS["client"], "bookworm") == images.ImageSpec.of(KINDS["sink"], "bookworm")


def test_every_kind_has_its_image_in_its_package() -> None:
    for kind in KINDS.values():
        assert (kind.image_dir / "Dockerfile").is_file(), kind.name
        assert kind.image_dir.parent == kind.package_dir


def test_a_kind_without_a_dockerfile_is_an_error(images_dir: Path) -> None:
    with pytest.raises(ImageBuildError, match="no Dockerfile for kind 'exim'"):
        spec_of(images_dir, "exim", "bookworm").context_files()
