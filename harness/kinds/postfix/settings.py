"""Postfix node settings: the ``postfix:`` key of a node."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.scenario.model import KindSettings
from harness.scenario.reader import Reader, suggest
from harness.scenario.source import PathT

KEYS = ("main", "master", "maps", "aliases", "remove_sasl_plugins", "chroot")
# as_shipped: master.cf's chroot column as Debian ships it, the chroot filled at start the way
# Debian's service start does; off: no service chrooted; no_copy: as shipped, never filled.
CHROOT_MODES = ("as_shipped", "off", "no_copy")
MAP_TYPES = ("hash", "btree", "cidr", "regexp", "texthash", "none")


@dataclass(frozen=True)
class MapFile:
    """A lookup table file, written verbatim and compiled with ``postmap`` where it needs it."""

    path: str
    content: str
    type: str = "hash"  # postmap type; "none" writes the file only


@dataclass(frozen=True)
class PostfixSettings(KindSettings):
    main: tuple[tuple[str, str], ...] = ()
    master: tuple[str, ...] = ()  # whole master.cf lines, appended
    maps: tuple[MapFile, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()  # /etc/aliases entries (postmaster kept)
    remove_sasl_plugins: bool = False
    chroot: str = "as_shipped"


def parse(r: Reader, path: PathT) -> PostfixSettings:
    raw = r.mapping(path, KEYS, "postfix settings")
    main = r.optional(raw, path, "main", lambda p: r.pairs(p, "postfix.main"), ())
    for key, _ in main:
        if not re.match(r"^[a-z0-9_]+$", key):
            r.fail((*path, "main", key), f"'{key}' is not a Postfix parameter name")
    return PostfixSettings(
        main=main,
        master=r.optional(raw, path, "master", lambda p: r.strings(p, "postfix.master"), ()),
        maps=r.optional(raw, path, "maps", lambda p: _maps(r, p), ()),
        aliases=r.optional(raw, path, "aliases", lambda p: r.pairs(p, "postfix.aliases"), ()),
        remove_sasl_plugins=r.optional(
            raw, path, "remove_sasl_plugins", lambda p: r.boolean(p, "remove_sasl_plugins"), False
        ),
        chroot=_chroot(r, path, raw),
    )


def _chroot(r: Reader, path: PathT, raw: dict[str, object]) -> str:
    mode = r.optional(raw, path, "chroot", lambda p: r.string(p, "chroot"), "as_shipped")
    if mode not in CHROOT_MODES:
        r.fail((*path, "chroot"), f"unknown chroot mode '{mode}'", suggest(mode, CHROOT_MODES))
    return mode


def _maps(r: Reader, path: PathT) -> tuple[MapFile, ...]:
    raw = r.keys(path, "maps")
    result = []
    for file_path, spec in raw.items():
        p = (*path, file_path)
        if not file_path.startswith("/etc/"):
            r.fail(p, f"map path '{file_path}' must be an absolute path under /etc/")
        if isinstance(spec, str):
            result.append(MapFile(file_path, _ensure_newline(spec), "hash"))
            continue
        body = r.mapping(p, ("type", "content"), f"map {file_path}")
        map_type = r.optional(body, p, "type", lambda q: r.string(q, "type"), "hash")
        if map_type not in MAP_TYPES:
            r.fail((*p, "type"), f"unknown map type '{map_type}'", suggest(map_type, MAP_TYPES))
        content = r.required(p, body, "content", f"map {file_path}", lambda q: r.string(q, "content"))
        result.append(MapFile(file_path, _ensure_newline(content), map_type))
    return tuple(result)


def _ensure_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"
