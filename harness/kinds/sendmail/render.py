"""sendmail: a readable .mc rendered from the scenario, built into sendmail.cf with m4 and
sendmail-cf as an administrator does, maps compiled with ``makemap``, aliases with
``newaliases``; raw sendmail.cf lines (a literal ``DS`` line) applied last."""

from __future__ import annotations

import re

from harness.kinds.sendmail.params import SENDMAIL_DEFINES
from harness.kinds.sendmail.settings import SendmailSettings
from harness.render.common import Command, NodeConfig, resolv_conf, start_prelude, user_commands
from harness.scenario.model import Node, Scenario

MC_PATH = "/etc/mail/harness.mc"
CF_PATH = "/etc/mail/sendmail.cf"
PID_FILE = "/run/sendmail/mta/sendmail.pid"
DEFAULT_ALIASES = (("postmaster", "root"), ("MAILER-DAEMON", "postmaster"))


def _quote(text: str) -> str:
    return f"`{text}'"


def _feature(raw: str) -> str:
    return f"FEATURE({raw})dnl" if "`" in raw else f"FEATURE({_quote(raw)})dnl"


def _feature_name(raw: str) -> str:
    return raw.split(",", 1)[0].strip().strip("`'")


def render_mc(scenario: Scenario, node: Node, config: SendmailSettings) -> str:
    lines = [
        "divert(-1)dnl",
        f"# Rendered by mta-harness for node '{node.name}' ({node.hostname}) of scenario '{scenario.name}'.",
        "# Built into sendmail.cf with: m4 harness.mc > sendmail.cf",
        "divert(0)dnl",
        "define(`_USE_ETC_MAIL_')dnl",
        "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl",
        f"VERSIONID({_quote('mta-harness ' + scenario.name + '/' + node.name)})dnl",
        "OSTYPE(`debian')dnl",
        "DOMAIN(`debian-mta')dnl",
        "dnl --- harness defaults (harness/kinds/sendmail/params.py)",
    ]
    scenario_defines = dict(config.defines)
    for param in SENDMAIL_DEFINES:
        if param.name in scenario_defines:
            continue
        lines.append(_define(param.name, param.value))
    if config.defines:
        lines.append("dnl --- scenario defines")
        for name, value in config.defines:
            lines.append(_define(name, value))
    lines.append("FEATURE(`no_default_msa')dnl")
    lines.append("FEATURE(`use_cw_file')dnl")
    lines.append(f"DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port=smtp, Addr={config.listen}')dnl")
    features = list(config.features)
    names = {_feature_name(f) for f in features}
    if config.access and "access_db" not in names:
        features.insert(0, "access_db")
    if config.mailertable and "mailertable" not in names:
        features.insert(0, "mailertable")
    if features:
        lines.append("dnl --- features")
        lines.extend(_feature(f) for f in features)
    if config.mc:
        lines.append("dnl --- scenario .mc lines")
        lines.extend(config.mc)
    lines += ["MAILER(`local')dnl", "MAILER(`smtp')dnl", ""]
    return "\n".join(lines)


def _define(name: str, value: str) -> str:
    if value == "":
        return f"undefine({_quote(name)})dnl"
    return f"define({_quote(name)}, {_quote(value)})dnl"


def _table(pairs: tuple[tuple[str, str], ...]) -> str:
    return "".join(f"{key}\t{value}\n" for key, value in pairs)


def render(scenario: Scenario, node: Node, config: SendmailSettings) -> NodeConfig:
    files: list[tuple[str, str, int]] = [
        ("/etc/harness/resolv.conf", resolv_conf(scenario, node), 0o644),
        (MC_PATH, render_mc(scenario, node, config), 0o644),
        ("/etc/mail/local-host-names", "".join(f"{h}\n" for h in (node.hostname, *config.local_host_names)), 0o644),
        ("/etc/mail/aliases", "".join(f"{k}: {v}\n" for k, v in (*DEFAULT_ALIASES, *config.aliases)), 0o644),
    ]
    setup: list[Command] = list(user_commands(node))
    if config.relay_domains:
        files.append(("/etc/mail/relay-domains", "".join(f"{d}\n" for d in config.relay_domains), 0o644))
    for name, table in (("access", config.access), ("mailertable", config.mailertable)):
        if table:
            files.append((f"/etc/mail/{name}", _table(table), 0o644))
            setup.append(
                Command(
                    f"makemap hash /etc/mail/{name}", ("sh", "-c", f"makemap hash /etc/mail/{name} < /etc/mail/{name}")
                )
            )
    setup.append(Command("newaliases", ("sh", "-c", "newaliases 2>&1")))
    setup.append(
        Command(
            "m4 harness.mc > sendmail.cf", ("sh", "-c", f"m4 {MC_PATH} > {CF_PATH}.new && mv {CF_PATH}.new {CF_PATH}")
        )
    )
    start = start_prelude() + (
        "mkdir -p /run/sendmail/mta\n"
        "pgrep -x syslogd >/dev/null || busybox syslogd -O /var/log/mail.log\n"
        f"/usr/sbin/sendmail -bd -q{config.queue_interval}\n"
    )
    stop = f"#!/bin/sh\n[ -f {PID_FILE} ] && kill $(head -n 1 {PID_FILE})\nwhile pgrep -f 'accepting connections' >/dev/null; do sleep 0.05; done\n"
    return NodeConfig(files=tuple(files), setup=tuple(setup), start=start, stop=stop)


def _cf_key(line: str) -> tuple[str, re.Pattern[str]]:
    """The generated line a raw cf line replaces: the same macro, or the same option."""
    if line.startswith("O "):
        name = line[2:].split("=", 1)[0].strip()
        return name, re.compile(rf"^#?O {re.escape(name)}=")
    if line.startswith("D{"):
        name = line[: line.index("}") + 1]
        return name, re.compile(rf"^{re.escape(name)}")
    name = line[:2]
    return name, re.compile(rf"^{re.escape(name)}")


def apply_cf_lines(cf_text: str, raw_lines: tuple[str, ...]) -> str:
    """Put raw sendmail.cf lines in place, as an administrator editing sendmail.cf does.

    A macro (``D``) or option (``O``) line replaces the generated line that sets the same
    macro or option (a commented-out default included); class and file-class lines, and
    lines with nothing to replace, go before the first ruleset.
    """
    lines = cf_text.splitlines()
    for raw in raw_lines:
        replaced = False
        if raw[0] in "DO":
            _, pattern = _cf_key(raw)
            for i, existing in enumerate(lines):
                if pattern.match(existing):
                    lines[i] = raw
                    replaced = True
                    break
        if not replaced:
            index = next((i for i, existing in enumerate(lines) if re.match(r"^S\S", existing)), len(lines))
            lines.insert(index, raw)
    return "\n".join(lines) + "\n"
