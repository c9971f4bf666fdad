"""The ``mailbox_server:`` key of a node whose kind serves mailboxes with Dovecot."""

from __future__ import annotations

from harness.scenario.model import MAILBOX_PROTOCOLS, MailboxService
from harness.scenario.reader import Reader, suggest
from harness.scenario.source import PathT

KEYS = ("protocols", "passwords")


def parse(r: Reader, path: PathT, node_users: tuple[str, ...]) -> MailboxService:
    raw = r.mapping(path, KEYS, "mailbox_server")
    protocols = r.optional(raw, path, "protocols", lambda p: r.strings(p, "protocols"), MAILBOX_PROTOCOLS)
    if not protocols:
        r.fail((*path, "protocols"), "no protocol to serve", "list pop3, imap or both (or leave 'protocols' out)")
    for i, protocol in enumerate(protocols):
        if protocol not in MAILBOX_PROTOCOLS:
            r.fail(
                (*path, "protocols", i), f"unknown mailbox protocol '{protocol}'", suggest(protocol, MAILBOX_PROTOCOLS)
            )
        if protocol in protocols[:i]:
            r.fail((*path, "protocols", i), f"protocol '{protocol}' is listed twice")
    passwords = r.required(path, raw, "passwords", "mailbox_server", lambda p: r.pairs(p, "passwords"))
    if not passwords:
        r.fail((*path, "passwords"), "no user to serve", "give each user who fetches mail a password: {taro: s3cret}")
    for user, password in passwords:
        if user not in node_users:
            r.fail(
                (*path, "passwords", user),
                f"'{user}' is not a local user of this node",
                f"add '{user}' to the node's users: their mailboxes are the ones served",
            )
        if not password or any(c in password for c in ":\r\n"):
            r.fail((*path, "passwords", user), "a password must be non-empty, without ':' or line breaks")
    return MailboxService(protocols=tuple(protocols), passwords=passwords)
