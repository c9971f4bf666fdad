"""Image tags are content hashes: an unchanged context keeps its tag, any change gets a new one."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core import images
from harness.errors import ImageBuildError


@pytest.fixture
def images_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "postfix").mkdir()
    (tmp_path / "postfix" / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nRUN true\n")
    monkeypatch.setattr(images, "IMAGES_DIR", tmp_path)
    return tmp_path


def test_the_tag_names_kind_suite_and_a_hash(images_dir: Path) -> None:
    tag = images.ImageSpec("postfix", "bookworm").tag("debian:bookworm-slim")
    assert tag.startswith("mta-harness/postfix:bookworm-")
    assert len(tag.rsplit("-", 1)[1]) == 12


def test_an_unchanged_context_keeps_its_tag(images_dir: Path) -> None:
    spec = images.ImageSpec("postfix", "bookworm")
    assert spec.tag("debian:bookworm-slim") == spec.tag("debian:bookworm-slim")


def test_a_changed_dockerfile_extra_file_suite_or_base_changes_the_tag(images_dir: Path) -> None:
    spec = images.ImageSpec("postfix", "bookworm")
    before = spec.tag("debian:bookworm-slim")
    assert images.ImageSpec("postfix", "trixie").tag("debian:bookworm-slim") != before
    assert spec.tag("mta-harness-base:bookworm") != before
    (images_dir / "postfix" / "extra.conf").write_text("x\n")
    with_extra = spec.tag("debian:bookworm-slim")
    assert with_extra != before
    (images_dir / "postfix" / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nRUN false\n")
    assert spec.tag("debian:bookworm-slim") not in (before, with_extra)


def test_the_sink_image_carries_the_agent_programs(images_dir: Path) -> None:
    (images_dir / "sink").mkdir()
    (images_dir / "sink" / "Dockerfile").write_text("FROM x\n")
    names = [name for name, _ in images.ImageSpec("sink", "bookworm").context_files()]
    assert {"agent/sink.py", "agent/smtp_send.py", "agent/dns_query.py"} <= set(names)


def test_a_kind_without_a_dockerfile_is_an_error(images_dir: Path) -> None:
    with pytest.raises(ImageBuildError, match="no Dockerfile for kind 'exim'"):
        images.ImageSpec("exim", "bookworm").context_files()
