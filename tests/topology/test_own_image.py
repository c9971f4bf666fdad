"""Bring your own image: a node can run a user-supplied image; the harness still renders and
applies its configuration, and says clearly what an unsuitable image lacks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.core import engine
from harness.core.images import ensure_image, resolve_base
from harness.errors import ImageLacksTools
from harness.kinds import KINDS
from harness.scenario.loader import load_scenario_text
from harness.topology import Topology

pytestmark = [pytest.mark.topology, pytest.mark.mta_subnets("10.208.0.0/24")]

SCENARIO = """
name: t-own-image
networks: {{net: {{subnet: 10.208.0.0/24}}}}
nodes:
  ns: {{kind: bind, hostname: ns.example.test, networks: {{net: 10.208.0.53}}}}
  pf: {{kind: postfix, hostname: pf.example.test, networks: {{net: 10.208.0.10}}, image: "{image}"}}
  mx: {{kind: sink, hostname: mx.remote.test, networks: {{net: 10.208.0.30}}}}
dns:
  zones: {{example.test: [], remote.test: ["@ MX 10 mx"]}}
steps:
  - send: {{id: m1, from: pf, mail_from: alice@example.test, to: bob@remote.test}}
  - expect_captured: {{at: mx, message: m1, peer: pf}}
"""


def test_a_user_image_with_the_tools_runs_the_scenario(labelled_objects: Callable[[str], list[str]]) -> None:
    built = ensure_image(KINDS["postfix"], "bookworm")
    own = "example.org/production-postfix:1.0"
    engine.client().images.get(built).tag(own)
    try:
        from harness.runner import run_scenario

        result = run_scenario(load_scenario_text(SCENARIO.format(image=own)), "bookworm")
        assert result.passed, result.report()
        assert result.versions["pf"].startswith("Postfix 3.")
    finally:
        engine.client().images.remove(own)
    assert labelled_objects("t-own-image") == []


def test_an_image_without_the_tools_is_refused_with_what_it_lacks(labelled_objects: Callable[[str], list[str]]) -> None:
    plain_debian = resolve_base("bookworm")
    topology = Topology(load_scenario_text(SCENARIO.format(image=plain_debian)), "bookworm")
    with pytest.raises(ImageLacksTools) as caught:
        topology.up()
    message = str(caught.value)
    assert f"node 'pf' runs image {plain_debian}, which lacks: " in message
    assert "postconf" in message.split("which lacks:")[1].split(";")[0]
    assert "a postfix node needs sh, cat, cp, pkill, ip, postfix, postconf, postmap, postqueue, newaliases" in message
    assert labelled_objects("t-own-image") == []
