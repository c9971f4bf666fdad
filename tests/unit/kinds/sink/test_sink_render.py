"""What a sink's rendered files say (``golden/``, kept by ``tests/unit/test_render.py``)."""

from __future__ import annotations

import json
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
CLIENT_GOLDEN = Path(__file__).parent.parent / "client" / "golden"  # the client kind renders with the sink's module


def golden(scenario_name: str, node_name: str, relative: str) -> str:
    return (GOLDEN / scenario_name / node_name / relative).read_text(encoding="utf-8")


def test_sink_json_carries_auth_and_replies() -> None:
    config = json.loads(golden("every-key", "mx", "etc/harness/sink.json"))
    assert config["ports"] == [25, 587, 465]
    assert config["implicit_tls"] == {"ports": [465], "cert": "/etc/harness/sink.crt", "key": "/etc/harness/sink.key"}
    assert config["auth"] == {
        "required": False,
        "mechanisms": ["PLAIN", "CRAM-MD5"],
        "users": {"relayuser": "secret"},
        "require_tls": False,
    }
    assert config["replies"][0] == {"command": "rcpt", "code": 450, "text": "4.2.0 greylisted", "match": "greylist@"}
    assert config["replies"][1]["command"] == "data" and config["replies"][1]["code"] == 552
    assert json.loads(golden("smoke", "mx", "etc/harness/sink.json"))["auth"] is None
    assert json.loads(golden("smoke", "mx", "etc/harness/sink.json"))["implicit_tls"] is None
    # a client runs no sink
    assert not (CLIENT_GOLDEN / "every-key" / "cl" / "etc" / "harness" / "sink.json").exists()
