"""Typed reading of a scenario file's values, with errors that name file, line and key path.

The loader reads the generic parts of a scenario with it (networks, nodes, DNS, steps); each
node kind reads its own settings with the same reader (``harness/kinds/<kind>/settings.py``),
so every error looks alike: ``file:line: key.path: problem (fix)``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, TypeVar

from harness.scenario.source import PathT, Source

T = TypeVar("T")
D = TypeVar("D")


def suggest(word: str, choices: Iterable[str]) -> str:
    """'did you mean ...?' for a near miss, else the list of what is allowed."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "allowed: " + ", ".join(choices)


def type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true/false",
    }.get(type(value), type(value).__name__)


class Reader:
    """Reads values at key paths of one parsed file; every problem raises a ScenarioError."""

    def __init__(self, src: Source) -> None:
        self.src = src

    def fail(self, path: PathT, problem: str, fix: str = "") -> NoReturn:
        self.src.fail(path, problem, fix)

    def get(self, path: PathT) -> Any:
        value = self.src.data
        for part in path:
            value = value[part]
        return value

    def has(self, path: PathT) -> bool:
        """Whether the key at ``path`` is there with a value (not left empty)."""
        try:
            return self.get(path) is not None
        except (KeyError, IndexError, TypeError):
            return False

    def mapping(self, path: PathT, allowed: Iterable[str], what: str) -> dict[str, Any]:
        value = self.get(path)
        if not isinstance(value, dict):
            self.fail(path, f"{what} must be a mapping, not {type_name(value)}")
        allowed = tuple(allowed)
        for key in value:
            if key not in allowed:
                self.fail((*path, key), f"unknown key '{key}' in {what}", suggest(key, allowed))
        return value

    def keys(self, path: PathT, what: str) -> dict[str, Any]:
        """A mapping whose keys are names chosen by the file (networks, nodes, zones)."""
        value = self.get(path)
        return self.mapping(path, value.keys() if isinstance(value, dict) else (), what)

    def require(self, path: PathT, value: dict[str, Any], key: str, what: str) -> Any:
        if key not in value or value[key] is None:
            self.fail(path, f"{what} needs the key '{key}'", f"add '{key}:'")
        return value[key]

    def required(self, path: PathT, body: dict[str, Any], key: str, what: str, read: Callable[[PathT], T]) -> T:
        """The value of a key that must be there, read with ``read``."""
        if key not in body:
            self.require(path, body, key, what)
        return read((*path, key))

    def string(self, path: PathT, what: str) -> str:
        value = self.get(path)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(path, f"{what} must be a string, not {type_name(value)}")
        return self.text_of(path, value)

    def text_of(self, path: PathT, value: Any) -> str:
        """A scalar as text, numbers as written in the file (`3.10` stays "3.10", not "3.1")."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.src.texts.get(path, str(value))
        return str(value)

    def integer(self, path: PathT, what: str) -> int:
        value = self.get(path)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"{what} must be a whole number, not {type_name(value)}")
        return value

    def boolean(self, path: PathT, what: str) -> bool:
        value = self.get(path)
        if not isinstance(value, bool):
            self.fail(path, f"{what} must be true or false, not {type_name(value)}")
        return value

    def seconds(self, path: PathT) -> float:
        value = self.get(path)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            self.fail(path, f"expected a number of seconds, not {value!r}")
        return float(value)

    def strings(self, path: PathT, what: str) -> tuple[str, ...]:
        value = self.get(path)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return (str(value),)
        if not isinstance(value, list):
            self.fail(path, f"{what} must be a list of strings, not {type_name(value)}")
        return tuple(self.string((*path, i), what) for i in range(len(value)))

    def pairs(self, path: PathT, what: str) -> tuple[tuple[str, str], ...]:
        value = self.get(path)
        if not isinstance(value, dict):
            self.fail(path, f"{what} must be a mapping of names to values, not {type_name(value)}")
        return tuple((str(k), self._scalar_text((*path, k), what)) for k in value)

    def _scalar_text(self, path: PathT, what: str) -> str:
        value = self.get(path)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)):
            self.fail(path, f"{what}: each value must be a string, not {type_name(value)}")
        return self.text_of(path, value)

    def optional(self, value: dict[str, Any], path: PathT, key: str, read: Callable[[PathT], T], default: D) -> T | D:
        if key not in value or value[key] is None:
            return default
        return read((*path, key))

    def regex(self, path: PathT, pattern: str) -> None:
        try:
            re.compile(pattern)
        except re.error as exc:
            self.fail(path, f"'{pattern}' is not a valid regular expression: {exc}")

    def line(self, path: PathT) -> int | None:
        return self.src.line(path)
