"""The registry of node kinds. A new kind is one package under ``harness/kinds/`` and one
line here; nothing else in the harness names a kind."""

from __future__ import annotations

from typing import Any, TypeVar

from harness.errors import HarnessError
from harness.kinds import bind, client, postfix, sendmail, sink
from harness.kinds.base import (
    AddressTester,
    CaptureSink,
    DkimSigner,
    DnsServer,
    Kind,
    MailboxServer,
    Mta,
    SmtpClient,
)
from harness.scenario.model import Node

KINDS: dict[str, Kind[Any]] = {
    kind.name: kind
    for kind in (
        postfix.KIND,
        sendmail.KIND,
        bind.KIND,
        sink.KIND,
        client.KIND,
    )
}

C = TypeVar("C")

__all__ = [
    "KINDS",
    "AddressTester",
    "CaptureSink",
    "DkimSigner",
    "DnsServer",
    "Kind",
    "MailboxServer",
    "Mta",
    "SmtpClient",
    "capability",
    "kind_of",
    "names_with",
]


def kind_of(node: Node | str) -> Kind[Any]:
    """The kind of a node (or the kind of that name)."""
    name = node if isinstance(node, str) else node.kind
    try:
        return KINDS[name]
    except KeyError:
        raise HarnessError(f"no node kind '{name}' (known: {', '.join(KINDS)})") from None


def capability(node: Node, wanted: type[C]) -> C | None:
    """The node's kind as the capability ``wanted``, or None if it has not got it."""
    kind = kind_of(node)
    return kind if isinstance(kind, wanted) else None


def names_with(wanted: type) -> str:
    """The kinds with a capability, for messages: 'postfix or sendmail'."""
    return " or ".join(sorted(name for name, kind in KINDS.items() if isinstance(kind, wanted)))


def image_kinds() -> dict[str, Kind[Any]]:
    """One kind per image (kinds may share one: sink and client)."""
    result: dict[str, Kind[Any]] = {}
    for kind in KINDS.values():
        result.setdefault(kind.image, kind)
    return result
