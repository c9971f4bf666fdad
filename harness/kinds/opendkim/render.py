"""OpenDKIM's part of an MTA node that signs with DKIM: /etc/opendkim.conf, the key made in
the node with ``opendkim-genkey`` when it is configured, the lines that start OpenDKIM before
the MTA and stop it, what the MTAs are told (Postfix's milter parameters, sendmail's
``INPUT_MAIL_FILTER``), and the public key's TXT records read back from the node."""

from __future__ import annotations

import re
from dataclasses import replace

from harness.render.common import Command, NodeConfig, start_prelude
from harness.scenario.model import DkimSigning, Node, Record, Scenario

CONF_PATH = "/etc/opendkim.conf"
# Debian's place for private keys (opendkim:opendkim, 0700; debian/README.PrivateKeys).
KEY_DIR = "/etc/dkimkeys"
PID_FILE = "/run/opendkim/opendkim.pid"
# The milter listens on loopback only (IPv4: every node also has ::1, named "localhost" too).
PORT = 8891
SOCKET = f"inet:{PORT}@127.0.0.1"
POSTFIX_MILTER = f"inet:127.0.0.1:{PORT}"
# A signer that is down must not let mail leave unsigned: the MTA answers 4xx and the client
# retries (Postfix: milter_default_action; sendmail: the filter's F=T flag).
POSTFIX_DEFAULT_ACTION = "tempfail"
SENDMAIL_FLAGS = "T"


def key_file(dkim: DkimSigning) -> str:
    return f"{KEY_DIR}/{dkim.selector}.private"


def record_file(dkim: DkimSigning) -> str:
    """Where opendkim-genkey writes the public key as a zone-file record."""
    return f"{KEY_DIR}/{dkim.selector}.txt"


def internal_hosts(scenario: Scenario) -> list[str]:
    """Clients whose mail is signed: loopback (local submissions) and every topology network."""
    return ["127.0.0.1", "::1", *(str(n.subnet) for n in scenario.networks)]


def conf_text(scenario: Scenario, node: Node, dkim: DkimSigning) -> str:
    settings = [
        ("Syslog", "yes"),
        ("SyslogSuccess", "yes"),
        ("LogWhy", "yes"),
        ("Mode", "s"),
        ("Canonicalization", dkim.canonicalization),
        ("OversignHeaders", "From"),
        ("Domain", ",".join(dkim.domains)),
        ("Selector", dkim.selector),
        ("KeyFile", key_file(dkim)),
        ("InternalHosts", ",".join(internal_hosts(scenario))),
        ("Socket", SOCKET),
        ("UserID", "opendkim"),
        ("UMask", "007"),
        ("PidFile", PID_FILE),
    ]
    head = f"# Rendered by mta-harness for node '{node.name}' ({node.hostname}) of scenario '{scenario.name}'.\n"
    return head + "".join(f"{name:<20}{value}\n" for name, value in settings)


def setup(dkim: DkimSigning) -> tuple[Command, ...]:
    genkey = (
        "opendkim-genkey",
        "-b",
        str(dkim.bits),
        "-d",
        dkim.domain,
        "-s",
        dkim.selector,
        "-D",
        KEY_DIR,
    )
    check = (
        'for t in opendkim opendkim-genkey busybox; do command -v $t >/dev/null || missing="$missing $t"; done; '
        '[ -z "$missing" ] || { echo "the image lacks:$missing (Debian: opendkim, opendkim-tools, busybox)"; exit 1; }'
    )
    return (
        Command("check the image has OpenDKIM", ("sh", "-c", check)),
        Command(f"make the DKIM key ({dkim.bits} bits, selector {dkim.selector})", genkey),
        Command("let OpenDKIM read its key", ("chown", "opendkim:opendkim", key_file(dkim), record_file(dkim))),
        Command("opendkim -n (OpenDKIM judges its configuration)", ("opendkim", "-n", "-x", CONF_PATH)),
    )


def start_lines(log_path: str) -> str:
    """OpenDKIM logs only to syslog: a busybox syslogd writes ``log_path`` (the sendmail
    kind's own syslogd, where it runs already). OpenDKIM forks; the MTA starts once it has
    written its pid file."""
    return (
        f"pgrep -x syslogd >/dev/null || busybox syslogd -O {log_path}\n"
        "mkdir -p /run/opendkim && chown opendkim:opendkim /run/opendkim\n"
        f"pgrep -x opendkim >/dev/null || opendkim -x {CONF_PATH}\n"
        f"i=0; while [ ! -s {PID_FILE} ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done\n"
    )


STOP = "pkill -x opendkim\nwhile pgrep -x opendkim >/dev/null; do sleep 0.05; done\nrm -f " + PID_FILE + "\n"


def add_to(config: NodeConfig, scenario: Scenario, node: Node, dkim: DkimSigning, log_path: str) -> NodeConfig:
    """The MTA's configuration with OpenDKIM's added: its file, its key made after the MTA's
    setup, started before the MTA (after the start's prelude), stopped after it."""
    prelude = start_prelude()
    if not config.start.startswith(prelude):
        raise ValueError(f"the start script of node '{node.name}' does not begin with the common prelude")
    start = prelude + start_lines(log_path) + config.start[len(prelude) :]
    return replace(
        config,
        files=(*config.files, (CONF_PATH, conf_text(scenario, node, dkim), 0o644)),
        setup=(*config.setup, *setup(dkim)),
        start=start,
        stop=config.stop + STOP,
    )


_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def key_strings(text: str) -> list[str]:
    """The character strings of the record opendkim-genkey wrote (``s1._domainkey IN TXT
    ( "v=DKIM1; ..." "p=..." "..." )``): the key split as it wrote it, each under 256 bytes."""
    strings = _STRING.findall(text.partition(")")[0])
    if not strings or not "".join(strings).startswith("v=DKIM1"):
        raise ValueError(f"not a DKIM key record: {text.strip()[:120]}")
    return strings


def records(dkim: DkimSigning, text: str) -> tuple[Record, ...]:
    """The key's TXT record for every signing domain, from opendkim-genkey's record file."""
    rdata = " ".join(f'"{s}"' for s in key_strings(text))
    return tuple(Record(owner=dkim.record_name(domain), ttl=None, rtype="TXT", rdata=rdata) for domain in dkim.domains)
