"""A step of a scenario is a small typed class: its keys as typed fields with their defaults
and meanings, the rules between them, and what it does, together.

The loader reads a step's keys with the types declared here and builds the class; the
runner calls :meth:`StepSpec.run` against a topology; ``docs/scenario-format.md`` lists the
same keys (a unit test keeps it true). Key types:

- ``node``: a node name; ``mta``/``sink_node``/``smtp_source``: a node with that capability
- ``message``: the ``id`` of a message sent by an earlier ``send`` step
- ``fetch``: the ``id`` of an earlier ``fetch`` step
- ``addresses``: one address or a list of them
- ``seconds``: a number of seconds; ``regex``: a Python regular expression (searched)
- ``str``, ``int``, ``bool``, ``ip``, ``network``, ``auth``, ``mapping``, ``list``
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

if TYPE_CHECKING:
    from harness.scenario.model import Node
    from harness.steps.view import TopologyView

# Defaults that several steps share, defined once.
DEFAULT_PORT = 25
DEFAULT_WITHIN = 30.0


@dataclass(frozen=True)
class Key:
    """One key of a step as a scenario file writes it."""

    name: str
    type: str
    meaning: str
    required: bool = False
    choices: tuple[str, ...] = ()
    field: str = ""  # the attribute holding it ('from' is held in 'from_')


def key(
    meaning: str,
    type: str = "str",
    *,
    required: bool = False,
    choices: tuple[str, ...] = (),
    name: str | None = None,
    default: Any = None,
) -> Any:
    """A step field that is a scenario key; required keys have no default."""
    metadata = {"key": (name, type, meaning, required, choices)}
    if required:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Checks:
    """What a step's own validation may look at, at load time."""

    nodes: dict[str, Node]
    # fail(key, problem, fix=""): raises with the key's file and line ("" for the step itself)
    fail: Callable[..., NoReturn]


@dataclass(frozen=True, kw_only=True)
class StepSpec:
    """Base of every step. Subclasses are frozen dataclasses of their keys."""

    action: ClassVar[str] = ""
    meaning: ClassVar[str] = ""
    expectation: ClassVar[bool] = False

    @classmethod
    def keys(cls) -> tuple[Key, ...]:
        result = []
        for f in dataclasses.fields(cls):
            if "key" in f.metadata:
                name, type_, meaning, required, choices = f.metadata["key"]
                result.append(Key(name or f.name, type_, meaning, required, choices, f.name))
        return tuple(result)

    @classmethod
    def key(cls, name: str) -> Key:
        return next(k for k in cls.keys() if k.name == name)

    def validate(self, checks: Checks) -> None:
        """Rules between the step's keys and the topology, beyond each key's type."""

    def reads_authentication_at(self) -> str | None:
        """The sink whose SPF/DKIM/DMARC verdicts the step reads, if it reads any: a sink
        with ``authentication: auto`` reaches them only for such a scenario."""
        return None

    def run(self, topo: TopologyView) -> str:
        """Carry the step out (an action) or judge it (an expectation); what was observed.

        An expectation that does not hold raises ExpectationFailed."""
        raise NotImplementedError


class Registry:
    """The steps by action name; ``register`` is the one place a step is added."""

    def __init__(self) -> None:
        self.steps: dict[str, type[StepSpec]] = {}

    def register(self, cls: type[StepSpec]) -> type[StepSpec]:
        assert cls.action and cls.action not in self.steps, cls
        self.steps[cls.action] = cls
        return cls

    def __getitem__(self, name: str) -> type[StepSpec]:
        return self.steps[name]

    def get(self, name: str) -> type[StepSpec] | None:
        return self.steps.get(name)

    def __iter__(self) -> Any:
        return iter(self.steps.values())

    def __len__(self) -> int:
        return len(self.steps)

    def names(self) -> list[str]:
        return list(self.steps)


STEPS = Registry()
