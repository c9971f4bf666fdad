"""Postfix: main.cf settings applied with ``postconf -e``, master.cf lines appended, maps
compiled with ``postmap``, and ``postfix check`` as the judge of the result."""

from __future__ import annotations

import re

from harness.kinds.postfix import maincf
from harness.kinds.postfix.params import POSTFIX_DKIM, POSTFIX_MAIN, YIELD_TO_USER_MAIN_CF
from harness.kinds.postfix.settings import PostfixSettings
from harness.render.common import Command, NodeConfig, domain_of, resolv_conf, start_prelude, user_commands
from harness.scenario.model import Node, Scenario

MASTER_APPEND = "/etc/harness/master.cf.append"
POSTMAP_TYPES = ("hash", "btree")
DEFAULT_ALIASES = (("postmaster", "root"), ("mailer-daemon", "postmaster"))
SASL_PLUGIN_GLOB = "/usr/lib/*/sasl2/libplain.so* /usr/lib/*/sasl2/liblogin.so*"


def main_settings(node: Node, config: PostfixSettings) -> list[tuple[str, str]]:
    """Harness defaults, then the scenario's settings (which win), in order."""
    values = {
        "hostname": node.hostname,
        "domain": domain_of(node.hostname),
        "ip": str(node.ip),
        "inet_protocols": "all" if node.ip6s else "ipv4",
    }
    user = user_main(node)
    settings = {
        p.name: p.value.format(**values)
        for p in POSTFIX_MAIN
        if not (p.name in user and p.name in YIELD_TO_USER_MAIN_CF)
    }
    if node.dkim is not None:
        settings.update((p.name, p.value) for p in POSTFIX_DKIM)
    for key, value in config.main:
        settings[key] = value
    return list(settings.items())


def user_main(node: Node) -> dict[str, maincf.Setting]:
    """The settings of the user's own main.cf (``files:``), none without one."""
    own = node.user_file(maincf.MAIN_CF)
    return maincf.parse(own.content) if own else {}


def user_maps(node: Node, main: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The user's files that main.cf uses as lookup tables: (type, path)."""
    own = node.user_file(maincf.MAIN_CF)
    text = (own.content if own else "") + "\n" + "\n".join(v for _, v in main)
    used = dict.fromkeys(re.findall(r"\b(hash|btree|regexp|pcre|cidr|texthash):(/etc/[^\s,]+)", text))
    return [(kind, path) for kind, path in used if node.user_file(path) is not None]


def map_command(map_type: str, path: str) -> Command:
    """A user's table: compiled with postmap (hash, btree), or read once with ``postmap -q``
    so that Postfix's complaints about its lines (``regexp map /etc/postfix/header_checks,
    line 2: ...``) are seen at configure time, not first in the mail log; a fatal one fails."""
    if map_type in POSTMAP_TYPES:
        return Command(f"postmap {map_type}:{path}", ("postmap", f"{map_type}:{path}"))
    probe = f'out=$(postmap -q mta-harness-probe {map_type}:{path} 2>&1); echo "$out"; case "$out" in *fatal:*) exit 1;; esac'
    return Command(f"read the user's table {map_type}:{path}", ("sh", "-c", probe))


# Debian's post-install (run by `postfix start` and `postfix check`) runs configure-instance.sh
# itself from trixie on, unless /etc/default/postfix empties SYNC_CHROOT; before, the service
# start ran it with the instance's name ("-", the default one). It copies resolv.conf, hosts, services, localtime,
# nsswitch.conf and the NSS libraries into the queue directory, where chrooted services read them.
SYNCS_ITSELF = "grep -q configure-instance /usr/lib/postfix/sbin/post-install"


def chroot_sync(mode: str) -> str:
    """Start-script lines that fill the chroot as Debian's service start does (or not)."""
    if mode == "no_copy":
        return ""
    return f"{SYNCS_ITSELF} || /usr/lib/postfix/configure-instance.sh -\n"


# no_copy on a Postfix that fills the chroot itself: told not to before the first postfix check.
NO_SYNC = Command(
    "never fill the chroot (SYNC_CHROOT= in /etc/default/postfix)",
    ("sh", "-c", f"! {SYNCS_ITSELF} || echo SYNC_CHROOT= >> /etc/default/postfix"),
)


def render(scenario: Scenario, node: Node, config: PostfixSettings) -> NodeConfig:
    files: list[tuple[str, str, int]] = [("/etc/harness/resolv.conf", resolv_conf(scenario, node), 0o644)]
    setup: list[Command] = list(user_commands(node))
    main = main_settings(node, config)
    notes: list[str] = []
    own = node.user_file(maincf.MAIN_CF)
    if own is not None:
        # Postfix reads the user's main.cf before anything is changed in it: its own
        # complaints then carry the line numbers of the user's file.
        setup.append(Command(f"read the user's main.cf ({own.source})", ("sh", "-c", "postconf -n >/dev/null")))
        notes = maincf.overrides(user_main(node), main, {k for k, _ in config.main}, own.source)
    files.append(("/etc/harness/main.cf.settings", "".join(f"{k} = {v}\n" for k, v in main), 0o644))
    setup.append(Command("set main.cf parameters (postconf -e)", ("postconf", "-e", *(f"{k}={v}" for k, v in main))))
    # Postfix re-reads a main.cf modified within the last second, pausing 0.3 s at a time
    # "to let it cool down" (util/dict.c, dict_load_file_xt): every postmap, newaliases and
    # postfix check right after postconf -e would wait ~2 s. The file is complete; say so.
    setup.append(
        Command("date main.cf back 2 s (it is complete)", ("touch", "-d", "-2 seconds", "/etc/postfix/main.cf"))
    )
    if config.master:
        files.append((MASTER_APPEND, "\n".join(config.master) + "\n", 0o644))
        setup.append(
            Command("append master.cf entries", ("sh", "-c", f"cat {MASTER_APPEND} >> /etc/postfix/master.cf"))
        )
    for map_type, path in user_maps(node, main):
        setup.append(map_command(map_type, path))
    for table in config.maps:
        files.append((table.path, table.content, 0o640 if "sasl" in table.path else 0o644))
        if table.type in POSTMAP_TYPES:
            setup.append(Command(f"postmap {table.type}:{table.path}", ("postmap", f"{table.type}:{table.path}")))
    if config.aliases:
        entries = dict(DEFAULT_ALIASES)
        entries.update(dict(config.aliases))
        files.append(("/etc/aliases", "".join(f"{name}: {target}\n" for name, target in entries.items()), 0o644))
    setup.append(Command("newaliases", ("newaliases",)))
    if config.remove_sasl_plugins:
        setup.append(Command("remove the SASL PLAIN/LOGIN plugins", ("sh", "-c", f"rm -f {SASL_PLUGIN_GLOB}")))
    if config.chroot == "off":
        setup.append(Command("chroot off for every service", ("postconf", "-F", "*/*/chroot = n")))
    if config.chroot == "no_copy":
        setup.append(NO_SYNC)
    setup.append(Command("postfix check", ("sh", "-c", "postfix check 2>&1; rc=$?; exit $rc")))
    start = start_prelude() + chroot_sync(config.chroot) + "postfix start\n"
    stop = "#!/bin/sh\npostfix stop\n"
    return NodeConfig(files=tuple(files), setup=tuple(setup), start=start, stop=stop, notes=tuple(notes))
