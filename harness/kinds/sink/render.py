"""The capture sink and the plain client: aiosmtpd from the sink image, configured by JSON.

Both run the harness's agent programs (``harness/agent``): the sink serves SMTP and
records captures; every such node sends test mail and asks DNS questions on request.
"""

from __future__ import annotations

import json

from harness.kinds.sink.settings import SinkSettings
from harness.render.common import NodeConfig, nameserver_for, resolv_conf, start_prelude
from harness.scenario.model import Node, Scenario

CONFIG_PATH = "/etc/harness/sink.json"
CAPTURES = "/var/lib/harness/captures.jsonl"
SESSION_LOG = "/var/log/sink.log"
CERT = "/etc/harness/sink.crt"
KEY = "/etc/harness/sink.key"
AGENT = "/opt/harness/agent"


def checks_authentication(scenario: Scenario, node: Node, config: SinkSettings) -> bool:
    """``auto``: only a scenario whose steps read this sink's verdicts pays for them (about
    two thirds of the sink's CPU a message)."""
    if config.authentication == "auto":
        return scenario.reads_authentication_at(node.name)
    return config.authentication == "on"


def sink_config(scenario: Scenario, node: Node, config: SinkSettings) -> dict[str, object]:
    return {
        # SPF, DKIM and DMARC are asked of the node's resolver only; without a DNS server in
        # the topology every verdict that needs DNS is a temperror.
        "authentication": {"nameservers": [nameserver_for(scenario, node)]}
        if checks_authentication(scenario, node, config)
        else None,
        "hostname": node.hostname,
        "ports": list(config.ports),
        "starttls": {"cert": CERT, "key": KEY} if config.starttls else None,
        "implicit_tls": {"ports": list(config.implicit_tls), "cert": CERT, "key": KEY} if config.implicit_tls else None,
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


def render_client(scenario: Scenario, node: Node) -> NodeConfig:
    """A node that only sends and asks: its resolver, nothing served."""
    files = (("/etc/harness/resolv.conf", resolv_conf(scenario, node), 0o644),)
    start = start_prelude() + f"mkdir -p /var/lib/harness && touch {CAPTURES} {SESSION_LOG}\n"
    return NodeConfig(files=files, start=start, stop="#!/bin/sh\n")


def render(scenario: Scenario, node: Node, config: SinkSettings) -> NodeConfig:
    client = render_client(scenario, node)
    files = (
        *client.files,
        (CONFIG_PATH, json.dumps(sink_config(scenario, node, config), indent=2, sort_keys=True) + "\n", 0o644),
    )
    start = client.start
    if config.starttls or config.implicit_tls:
        start += (
            f"[ -s {CERT} ] || openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN={node.hostname} "
            f"-keyout {KEY} -out {CERT} 2>/dev/null\n"
        )
    start += f"nohup python3 {AGENT}/sink.py {CONFIG_PATH} >>{SESSION_LOG} 2>&1 &\n"
    stop = (
        client.stop + f"pkill -f '{AGENT}/sink.py'\nwhile pgrep -f '{AGENT}/sink.py' >/dev/null; do sleep 0.05; done\n"
    )
    return NodeConfig(files=files, start=start, stop=stop)
