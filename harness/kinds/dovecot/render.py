"""Dovecot's part of an MTA node that serves mailboxes: its configuration (one template per
Dovecot release series, chosen in the node by ``dovecot --version``), the passwd-file of the
scenario's users, and the lines that start and stop it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from string import Template

from harness.render.common import Command, NodeConfig
from harness.scenario.model import MailboxService

CONF_DIR = Path(__file__).resolve().parent / "conf"
# The release series the harness has a configuration for (their syntax differs: 2.4
# renamed most settings and dropped 2.3's).
SERIES = ("2.3", "2.4")
CONF_PATH = "/etc/dovecot/dovecot.conf"
USERS_FILE = "/etc/dovecot/harness-users"
PORTS = {"pop3": 110, "imap": 143}


def conf_path(series: str) -> str:
    return f"/etc/harness/dovecot-{series}.conf"


def conf_text(series: str, service: MailboxService, log_path: str) -> str:
    template = Template((CONF_DIR / f"dovecot-{series}.conf").read_text(encoding="utf-8"))
    return template.substitute(protocols=" ".join(service.protocols), log_path=log_path, users_file=USERS_FILE)


def users_file(service: MailboxService) -> str:
    """Dovecot's passwd-file: user, then the password with its scheme; the rest (uid, home)
    comes from the system's passwd (the node's local users)."""
    return "".join(f"{user}:{{PLAIN}}{password}\n" for user, password in service.passwords)


def select_command() -> Command:
    choices = " ".join(SERIES)
    script = (
        "command -v dovecot >/dev/null || { echo 'the image has no dovecot (Debian: dovecot-pop3d, dovecot-imapd)'; exit 1; }; "
        "series=$(dovecot --version | cut -d. -f1,2); "
        f'case " {choices} " in *" $series "*) ;; '
        f'*) echo "Dovecot $(dovecot --version): no configuration for release series $series (have: {choices})"; exit 1;; esac; '
        f"cp {conf_path('$series')} {CONF_PATH}"
    )
    return Command("choose the Dovecot configuration of this version", ("sh", "-c", script))


def render(service: MailboxService, log_path: str) -> NodeConfig:
    files = tuple((conf_path(series), conf_text(series, service, log_path), 0o644) for series in SERIES)
    files += ((USERS_FILE, users_file(service), 0o640),)
    setup = (
        select_command(),
        Command("let Dovecot's auth read its passwd-file", ("chgrp", "dovecot", USERS_FILE)),
        Command("doveconf -n (Dovecot judges its configuration)", ("sh", "-c", "doveconf -n >/dev/null")),
    )
    start = "pgrep -x dovecot >/dev/null || /usr/sbin/dovecot\n"
    stop = "/usr/sbin/dovecot stop 2>/dev/null\nwhile pgrep -x dovecot >/dev/null; do sleep 0.05; done\n"
    return NodeConfig(files=files, setup=setup, start=start, stop=stop)


def add_to(config: NodeConfig, service: MailboxService, log_path: str) -> NodeConfig:
    """The MTA's own config with Dovecot's added: files, setup after the MTA's (its local
    users exist by then), started after the MTA and stopped with it."""
    part = render(service, log_path)
    return replace(
        config,
        files=config.files + part.files,
        setup=config.setup + part.setup,
        start=config.start + part.start,
        stop=config.stop + part.stop,
    )
