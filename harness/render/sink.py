"""The capture sink and the plain client: aiosmtpd from the sink image, configured by JSON."""

from __future__ import annotations

import json

from harness.render.common import NodeConfig, resolv_conf, start_prelude
from harness.scenario.model import Node, Scenario

CONFIG_PATH = "/etc/harness/sink.json"
CAPTURES = "/var/lib/harness/captures.jsonl"
SESSION_LOG = "/var/log/sink.log"
CERT = "/etc/harness/sink.crt"
KEY = "/etc/harness/sink.key"
AGENT = "/opt/harness/agent"


def sink_config(node: Node) -> dict[str, object]:
    config = node.sink
    assert config is not None
    return {
        "hostname": node.hostname,
        "ports": list(config.ports),
        "starttls": {"cert": CERT, "key": KEY} if config.starttls else None,
        "captures": CAPTURES,
        "log": SESSION_LOG,
        "auth": None
        if config.auth is None
        else {
            "required": config.auth.required,
            "mechanisms": list(config.auth.mechanisms),
            "users": dict(config.auth.users),
            "require_tls": config.auth.require_tls,
        },
        "replies": [{"command": r.command, "code": r.code, "text": r.text, "match": r.match} for r in config.replies],
    }


def render(scenario: Scenario, node: Node) -> NodeConfig:
    files: list[tuple[str, str, int]] = [("/etc/harness/resolv.conf", resolv_conf(scenario, node), 0o644)]
    start = start_prelude() + f"mkdir -p /var/lib/harness && touch {CAPTURES} {SESSION_LOG}\n"
    stop = "#!/bin/sh\n"
    if node.kind == "sink":
        files.append((CONFIG_PATH, json.dumps(sink_config(node), indent=2, sort_keys=True) + "\n", 0o644))
        assert node.sink is not None
        if node.sink.starttls:
            start += (
                f"[ -s {CERT} ] || openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN={node.hostname} "
                f"-keyout {KEY} -out {CERT} 2>/dev/null\n"
            )
        start += f"nohup python3 {AGENT}/sink.py {CONFIG_PATH} >>{SESSION_LOG} 2>&1 &\n"
        stop += f"pkill -f '{AGENT}/sink.py'\nwhile pgrep -f '{AGENT}/sink.py' >/dev/null; do sleep 0.05; done\n"
    return NodeConfig(files=tuple(files), start=start, stop=stop)
