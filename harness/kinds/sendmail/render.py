"""sendmail: a readable .mc rendered from the scenario, built into sendmail.cf with m4 and
sendmail-cf as an administrator does, maps compiled with ``makemap``, aliases with
``newaliases``; raw sendmail.cf lines (a literal ``DS`` line) applied last."""

from __future__ import annotations

import re

from harness.kinds.opendkim.render import SENDMAIL_FLAGS, SOCKET
from harness.kinds.sendmail import usermc
from harness.kinds.sendmail.params import SENDMAIL_DEFINES
from harness.kinds.sendmail.settings import LOCAL_RULES, SendmailSettings
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
    return mc_and_notes(scenario, node, config)[0]


def mc_and_notes(scenario: Scenario, node: Node, config: SendmailSettings) -> tuple[str, list[str]]:
    """harness.mc, and what it overrode of the user's own sendmail.mc (``files:``), if any."""
    own = node.user_file(usermc.USER_MC)
    head = [
        "divert(-1)dnl",
        f"# Rendered by mta-harness for node '{node.name}' ({node.hostname}) of scenario '{scenario.name}'.",
        "# Built into sendmail.cf with: m4 harness.mc > sendmail.cf",
        "divert(0)dnl",
        "define(`_USE_ETC_MAIL_')dnl",
        "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl",
        f"VERSIONID({_quote('mta-harness ' + scenario.name + '/' + node.name)})dnl",
        "OSTYPE(`debian')dnl",
        "DOMAIN(`debian-mta')dnl",
    ]
    lines = ["dnl --- harness defaults (harness/kinds/sendmail/params.py)"]
    scenario_defines = dict(config.defines)
    final: dict[str, tuple[str, str]] = {}
    for param in SENDMAIL_DEFINES:
        if param.name in scenario_defines:
            continue
        lines.append(_define(param.name, param.value))
        final[param.name] = (param.value, "the harness")
    if config.defines:
        lines.append("dnl --- scenario defines")
        for name, value in config.defines:
            lines.append(_define(name, value))
            final[name] = (value, "the scenario's sendmail.defines")
    lines.append("FEATURE(`no_default_msa')dnl")
    lines.append("FEATURE(`use_cw_file')dnl")
    lines.append(f"DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port=smtp, Addr={config.listen}')dnl")
    if node.ip6s and config.listen == "0.0.0.0":
        # On a dual-stack network it also listens on each of its IPv6 addresses and on ::1.
        # Not on "::": sendmail's socket there is not IPv6-only and takes the IPv4 port too
        # ("daemon MTA-v6: cannot bind: Address already in use").
        for i, address in enumerate(("::1", *map(str, node.ip6s))):
            lines.append(f"DAEMON_OPTIONS(`Family=inet6, Name=MTA-v6-{i}, Port=smtp, Addr={address}')dnl")
    features = list(config.features)
    names = {_feature_name(f) for f in features}
    if config.access and "access_db" not in names:
        features.insert(0, "access_db")
    if config.mailertable and "mailertable" not in names:
        features.insert(0, "mailertable")
    if features:
        lines.append("dnl --- features")
        lines.extend(_feature(f) for f in features)
    if node.dkim is not None:
        lines.append("dnl --- DKIM signing: OpenDKIM (harness/kinds/opendkim)")
        lines.append(f"INPUT_MAIL_FILTER(`opendkim', `S={SOCKET}, F={SENDMAIL_FLAGS}')dnl")
    if config.mc:
        lines.append("dnl --- scenario .mc lines")
        lines.extend(config.mc)
    notes: list[str] = []
    if own is None:
        lines = [*head, *lines, "MAILER(`local')dnl", "MAILER(`smtp')dnl"]
    else:
        lines, notes = usermc.combine(own.content, own.source, lines, final)
    lines += _rules(config)
    lines.append("")
    return "\n".join(lines), notes


def _rules(config: SendmailSettings) -> list[str]:
    """LOCAL_RULE_n and LOCAL_RULESETS, after the MAILER lines. Each rule line is quoted for
    m4, so that no word of it is taken for a macro (``dnl``, ``index``, ...)."""
    lines = []
    for number, rules in config.local_rules:
        lines += [f"dnl --- scenario rules: ruleset {LOCAL_RULES[number]}", f"LOCAL_RULE_{number}"]
        lines += [_quote(rule) for rule in rules]
    if config.local_rulesets:
        lines += ["dnl --- scenario rulesets", "LOCAL_RULESETS"]
        lines += [_quote(line) for line in config.local_rulesets]
    return lines


def _define(name: str, value: str) -> str:
    if value == "":
        return f"undefine({_quote(name)})dnl"
    return f"define({_quote(name)}, {_quote(value)})dnl"


# Debian's sendmail delivers local mail with procmail (sensible-mda). Two deliveries to one
# mailbox at once: the second waits for the first's lock and then sleeps LOCKSLEEP, 8 s by
# default, before it looks again. A test that sends two messages to one user waited 8 s for
# nothing; the harness shortens the sleep, as it shortens queue and retry times. A user's own
# /etc/procmailrc (``files:``) replaces this one.
PROCMAILRC = "/etc/procmailrc"
PROCMAILRC_TEXT = (
    "# Rendered by mta-harness: a delivery that meets a locked mailbox looks again after 1 s (not 8 s).\nLOCKSLEEP=1\n"
)


def _table(pairs: tuple[tuple[str, str], ...]) -> str:
    return "".join(f"{key}\t{value}\n" for key, value in pairs)


def render(scenario: Scenario, node: Node, config: SendmailSettings) -> NodeConfig:
    mc, notes = mc_and_notes(scenario, node, config)
    files: list[tuple[str, str, int]] = [
        ("/etc/harness/resolv.conf", resolv_conf(scenario, node), 0o644),
        (MC_PATH, mc, 0o644),
        ("/etc/mail/local-host-names", _local_host_names(node, config), 0o644),
        ("/etc/mail/aliases", _aliases(node, config), 0o644),
    ]
    if node.user_file(PROCMAILRC) is None:
        files.append((PROCMAILRC, PROCMAILRC_TEXT, 0o644))
    setup: list[Command] = list(user_commands(node))
    own = node.user_file(usermc.USER_MC)
    if own is not None:
        # m4 reads the user's .mc as placed: its complaints carry the user's line numbers.
        setup.append(
            Command(f"read the user's sendmail.mc ({own.source})", ("sh", "-c", f"m4 {usermc.USER_MC} >/dev/null"))
        )
    for name in usermc.USER_MAPS:
        path = f"/etc/mail/{name}"
        if (
            node.user_file(path) is not None
            and not (name == "access" and config.access)
            and not (name == "mailertable" and config.mailertable)
        ):
            setup.append(Command(f"makemap hash {path}", ("sh", "-c", f"makemap hash {path} < {path}")))
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
    return NodeConfig(files=tuple(files), setup=tuple(setup), start=start, stop=stop, notes=tuple(notes))


def _local_host_names(node: Node, config: SendmailSettings) -> str:
    """The node's own name first, then the user's file (``files:``) or the scenario's list."""
    own = node.user_file("/etc/mail/local-host-names")
    names = [node.hostname, *config.local_host_names]
    text = "".join(f"{h}\n" for h in names)
    return text + own.content if own else text


def _aliases(node: Node, config: SendmailSettings) -> str:
    """The user's aliases file (``files:``) or the harness's postmaster lines, then the
    scenario's aliases."""
    own = node.user_file("/etc/mail/aliases")
    base = own.content if own else "".join(f"{k}: {v}\n" for k, v in DEFAULT_ALIASES)
    if base and not base.endswith("\n"):
        base += "\n"
    return base + "".join(f"{k}: {v}\n" for k, v in config.aliases)


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


# Mailers sendmail defines itself, besides the M lines of sendmail.cf.
BUILTIN_MAILERS = ("error", "discard", "*file*", "*include*")
_MAILER_REF = re.compile(r"\$#\s*([A-Za-z0-9_*-]+)")
_RULESET_REF = re.compile(r"\$>\s*([A-Za-z0-9_]+)")


def explain(problems: list[str], cf_text: str) -> str:
    """sendmail's own complaints (``sendmail.cf: line N: ...``), each with the line it means."""
    lines = cf_text.split("\n")  # not splitlines(): the cf holds form feeds ("#\f")
    result = []
    for problem in problems:
        result.append(problem)
        number = re.search(r"line (\d+):", problem)
        if number and 0 < int(number.group(1)) <= len(lines):
            result.append(f"    {number.group(1)}: {lines[int(number.group(1)) - 1]}")
    return "\n".join(result)


def unknown_references(cf_text: str, config: SendmailSettings) -> list[str]:
    """Mailers (``$#name``) and rulesets (``$>name``) that the scenario's rules use but that
    sendmail.cf does not define: sendmail starts with them and fails only on the first
    address that reaches the rule ("Unknown ruleset", "unknown mailer")."""
    mailers = {m.group(1) for m in re.finditer(r"^M([^,\s]+),", cf_text, re.M)} | set(BUILTIN_MAILERS)
    rulesets: set[str] = set()
    for m in re.finditer(r"^S(\w+)(?:=(\d+))?", cf_text, re.M):
        rulesets.update(x for x in m.groups() if x)
    found = []
    rules = [(f"local_rules.{n}[{i}]", line) for n, lines in config.local_rules for i, line in enumerate(lines)]
    rules += [(f"local_rulesets[{i}]", line) for i, line in enumerate(config.local_rulesets)]
    for where, line in rules:
        rhs = line.split("\t")[1] if "\t" in line else ""
        for name in _MAILER_REF.findall(rhs):
            if not name.startswith("$") and name not in mailers:
                found.append(f"{where}: mailer '{name}' is not defined (defined: {', '.join(sorted(mailers))}): {line}")
        for name in _RULESET_REF.findall(rhs):
            if name not in rulesets:
                found.append(f"{where}: ruleset '{name}' is not defined: {line}")
    return found
