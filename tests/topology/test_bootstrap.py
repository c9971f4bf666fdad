"""Without a registry, base images are bootstrapped from Debian's mirror (mmdebstrap, then
docker import); this is the path every image on these machines takes."""

from __future__ import annotations

import shutil

import pytest

from harness.core import engine
from harness.core.images import bootstrap_base

pytestmark = pytest.mark.topology

NAME = "mta-harness-base-test:bookworm"


@pytest.mark.skipif(shutil.which("mmdebstrap") is None, reason="mmdebstrap is not installed")
def test_bootstrap_makes_a_debian_base_image() -> None:
    client = engine.client()
    try:
        bootstrap_base("bookworm", NAME)
        output = client.containers.run(NAME, ["cat", "/etc/debian_version"], network_disabled=True, remove=True)
        assert output.decode().startswith("12.")
    finally:
        try:
            client.images.remove(NAME, force=True)
        except Exception:  # the assertion above says what went wrong
            pass
