"""A user's own main.cf (the ``files:`` node key): what it sets, and what the harness's
parameters override of it.

main.cf's syntax (postconf(5)): ``name = value``; a line that starts with white space
continues the previous one; ``#`` starts a comment line; the last setting of a name wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAIN_CF = "/etc/postfix/main.cf"
MASTER_CF = "/etc/postfix/master.cf"
_SETTING = re.compile(r"^([A-Za-z0-9_.-]+)\s*=\s*(.*)$")


@dataclass(frozen=True)
class Setting:
    name: str
    value: str
    line: int  # where the setting starts in the file


def parse(text: str) -> dict[str, Setting]:
    """The settings of a main.cf, the last of each name (as Postfix reads it)."""
    result: dict[str, Setting] = {}
    current: Setting | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace() and current is not None:
            current = Setting(current.name, f"{current.value} {raw.strip()}".strip(), current.line)
            result[current.name] = current
            continue
        match = _SETTING.match(raw.strip())
        current = Setting(match.group(1), match.group(2).strip(), number) if match else None
        if current is not None:
            result[current.name] = current
    return result


def overrides(user: dict[str, Setting], final: list[tuple[str, str]], scenario: set[str], source: str) -> list[str]:
    """One line per user setting that the harness (or the scenario's ``postfix.main``) set
    to another value: ``/etc/postfix/main.cf (files/prod-main.cf:3): myhostname =
    mail.prod.example overridden by the harness: pf.example.test``."""
    lines = []
    for name, value in final:
        mine = user.get(name)
        if mine is None or mine.value == value:
            continue
        by = "the scenario's postfix.main" if name in scenario else "the harness"
        lines.append(f"{MAIN_CF} ({source}:{mine.line}): {name} = {mine.value} overridden by {by}: {value}")
    return lines
