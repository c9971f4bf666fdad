"""The registry of scenario steps: each action, its keys, their types and meanings.

The loader validates steps against this table and ``docs/scenario-format.md`` describes it;
:mod:`harness.runner` carries the actions out. Types:

- ``node``: a node name; ``mta``/``sink``/``smtp_source``: a node of those kinds
- ``message``: the ``id`` of a message sent by an earlier ``send`` step
- ``addresses``: one address or a list of them
- ``seconds``: a number of seconds; ``regex``: a Python regular expression (searched)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    name: str
    type: str
    meaning: str
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    name: str
    meaning: str
    keys: tuple[Key, ...]
    expectation: bool = False

    def key(self, name: str) -> Key | None:
        for key in self.keys:
            if key.name == name:
                return key
        return None


STAGES = ("connect", "helo", "starttls", "auth", "mail", "rcpt", "data")
STATUSES = ("sent", "deferred", "bounced", "expired")

_WITHIN = Key("within", "seconds", "how long to wait for it to become true (default 30)")

ACTIONS: tuple[Action, ...] = (
    Action(
        "send",
        "Send a message. From a client or sink node it is an SMTP session to `server`; from an "
        "MTA node it is a local submission with the MTA's own sendmail command.",
        (
            Key("id", "str", "the message's name, used by later expectations", required=True),
            Key("from", "node", "the node the message starts at", required=True),
            Key("to", "addresses", "envelope recipients", required=True),
            Key("mail_from", "str", "envelope sender (default tester@<from node's hostname>)"),
            Key("server", "node", "SMTP sessions: the node to connect to"),
            Key("server_ip", "ip", "SMTP sessions: connect to this topology address instead"),
            Key("port", "int", "SMTP sessions: the port (default 25)"),
            Key("helo", "str", "SMTP sessions: the EHLO name (default the client's hostname)"),
            Key("starttls", "bool", "SMTP sessions: issue STARTTLS after EHLO (certificate not verified)"),
            Key("auth", "auth", "SMTP sessions: {user, password, mechanism} to authenticate"),
            Key("subject", "str", "Subject header"),
            Key("body", "str", "message body"),
            Key("headers", "mapping", "extra header fields"),
            Key(
                "expect",
                "str",
                "SMTP sessions: the outcome that is not a failure (default accepted)",
                choices=("accepted", "rejected", "any"),
            ),
        ),
    ),
    Action(
        "expect_smtp",
        "A reply in the SMTP transcript of an earlier `send`.",
        (
            Key("message", "message", "the message whose session is meant", required=True),
            Key("stage", "str", "the command whose reply is checked", required=True, choices=STAGES),
            Key("code", "int", "the expected reply code"),
            Key("text", "regex", "a pattern the reply text must match"),
            Key("rcpt", "str", "stage rcpt: which recipient's reply (default: every one)"),
        ),
        expectation=True,
    ),
    Action(
        "expect_captured",
        "A sink captured the message.",
        (
            Key("at", "sink", "the sink", required=True),
            Key("message", "message", "the message", required=True),
            Key("rcpt", "addresses", "the exact envelope recipients of the capture"),
            Key("mail_from", "str", "the envelope sender of the capture"),
            Key("peer", "node", "the node the sink's client was (by address)"),
            Key("auth_user", "str", "the identity the client authenticated as"),
            Key("auth_mechanism", "str", "the SASL mechanism the client used"),
            Key("tls", "bool", "whether the session was encrypted with STARTTLS"),
            Key("count", "int", "how many captures of the message (default 1)"),
            _WITHIN,
        ),
        expectation=True,
    ),
    Action(
        "expect_not_captured",
        "No sink (or the named one) captures the message within the time given.",
        (
            Key("message", "message", "the message", required=True),
            Key("at", "sink", "only this sink (default: every sink)"),
            Key("within", "seconds", "how long to keep watching (default 5)"),
        ),
        expectation=True,
    ),
    Action(
        "expect_delivery",
        "An MTA's log shows a delivery attempt of the message with the given outcome.",
        (
            Key("at", "mta", "the MTA", required=True),
            Key("message", "message", "the message", required=True),
            Key("status", "str", "the outcome", required=True, choices=STATUSES),
            Key("rcpt", "str", "the recipient (default: any)"),
            Key("relay", "regex", "a pattern the relay field must match"),
            Key("dsn", "regex", "a pattern the DSN code must match"),
            Key("reason", "regex", "a pattern the status text must match"),
            _WITHIN,
        ),
        expectation=True,
    ),
    Action(
        "expect_queued",
        "The message sits in an MTA's queue.",
        (
            Key("at", "mta", "the MTA", required=True),
            Key("message", "message", "the message", required=True),
            Key("reason", "regex", "a pattern the queue's reason must match"),
            Key("absent", "bool", "expect the message NOT to be queued (checked at once)"),
            _WITHIN,
        ),
        expectation=True,
    ),
    Action(
        "expect_queue_empty",
        "An MTA's queue is empty.",
        (Key("at", "mta", "the MTA", required=True), _WITHIN),
        expectation=True,
    ),
    Action(
        "expect_log",
        "A line of a node's mail log matches.",
        (
            Key("at", "node", "the node", required=True),
            Key("match", "regex", "the pattern", required=True),
            Key("message", "message", "only lines of this message's queue ids"),
            Key("absent", "bool", "expect that no line matches (checked at once)"),
            _WITHIN,
        ),
        expectation=True,
    ),
    Action(
        "expect_mailbox",
        "A local user's mailbox on an MTA holds the message.",
        (
            Key("at", "mta", "the MTA", required=True),
            Key("user", "str", "the local user", required=True),
            Key("message", "message", "the message", required=True),
            Key("count", "int", "how many copies the mailbox must hold (default: at least one)"),
            Key("absent", "bool", "expect the message NOT to be in the mailbox (checked at once)"),
            _WITHIN,
        ),
        expectation=True,
    ),
    Action(
        "expect_dns",
        "What the topology's DNS answers for a name, asked from inside the topology.",
        (
            Key("name", "str", "the name asked for", required=True),
            Key("type", "str", "the record type (default A)"),
            Key("rcode", "str", "NOERROR, NXDOMAIN, SERVFAIL or TIMEOUT (default NOERROR)"),
            Key("answer", "list", "the expected answer records' data (any order)"),
        ),
        expectation=True,
    ),
    Action(
        "expect_command",
        "A command run inside a node (with sh -c) exits with the given code and its output "
        "matches: for what no log line shows, e.g. a setting or an installed file.",
        (
            Key("at", "node", "the node", required=True),
            Key("run", "str", "the command", required=True),
            Key("match", "regex", "a pattern the output must match"),
            Key("absent", "bool", "expect the pattern not to match"),
            Key("code", "int", "the expected exit code (default 0)"),
            Key("within", "seconds", "retry until it holds for this long (default: run once)"),
        ),
        expectation=True,
    ),
    Action(
        "relay_check",
        "The open-relay battery (the 16 address forms of nmap's smtp-open-relay) from a client "
        "against a server; relayed means a message reached a sink.",
        (
            Key("from", "smtp_source", "the client or sink node the sessions start at", required=True),
            Key("server", "node", "the server under test", required=True),
            Key("domain", "str", "the remote domain the forms try to reach (its MX should be a sink)", required=True),
            Key("server_name", "str", "the name used in the forms' routing parts (default the server's hostname)"),
            Key("port", "int", "the port (default 25)"),
            Key("within", "seconds", "how long accepted messages are watched for (default 10)"),
            Key("expect", "str", "the verdict (default closed)", choices=("closed", "open")),
        ),
        expectation=True,
    ),
    Action("stop", "Stop a node's container: its address vanishes.", (Key("node", "node", "the node", required=True),)),
    Action(
        "start",
        "Start a stopped node's container again.",
        (Key("node", "node", "the node", required=True),),
    ),
    Action(
        "refuse",
        "Stop the service inside a node (the container stays up): connections are refused.",
        (Key("node", "node", "the node", required=True),),
    ),
    Action(
        "restore", "Start the service stopped by `refuse` again.", (Key("node", "node", "the node", required=True),)
    ),
    Action(
        "disconnect",
        "Cut a node off one of its networks.",
        (
            Key("node", "node", "the node", required=True),
            Key("network", "network", "the network (default its first)"),
        ),
    ),
    Action(
        "reconnect",
        "Attach a node to a network again, with its address.",
        (
            Key("node", "node", "the node", required=True),
            Key("network", "network", "the network (default its first)"),
        ),
    ),
    Action("flush", "Ask an MTA to deliver its queue now.", (Key("node", "mta", "the MTA", required=True),)),
    Action(
        "reset_captures",
        "Forget what a sink (default: every sink) captured so far.",
        (Key("at", "sink", "the sink"),),
    ),
    Action(
        "sleep",
        "Wait a fixed time (for timers under test; expectations wait by themselves).",
        (Key("seconds", "seconds", "how long", required=True),),
    ),
)

ACTIONS_BY_NAME = {action.name: action for action in ACTIONS}
