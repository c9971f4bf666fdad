"""The settings the harness itself renders for one kind, each with its meaning.

Scenario settings are applied after these and win. Values may hold ``{hostname}``,
``{domain}``, ``{ip}`` and ``{inet_protocols}``, filled in per node.
"""

from __future__ import annotations

from harness.kinds.opendkim.render import POSTFIX_DEFAULT_ACTION, POSTFIX_MILTER
from harness.render.common import Param

POSTFIX_MAIN: tuple[Param, ...] = (
    Param("myhostname", "{hostname}", "the node's FQDN; Debian's main.cf carries the build machine's"),
    Param("mydomain", "{domain}", "the parent domain of the hostname"),
    Param("myorigin", "$myhostname", "unqualified senders are qualified with the hostname"),
    Param("mydestination", "$myhostname, localhost", "only the node itself is local unless a scenario says more"),
    Param("inet_interfaces", "all", "listen on every topology network"),
    Param(
        "inet_protocols",
        "{inet_protocols}",
        "ipv4; all where the node has an IPv6 address (on a dual-stack network): it listens and connects over both",
    ),
    Param("mynetworks", "127.0.0.0/8", "only loopback may relay unless a scenario says more"),
    Param("relayhost", "", "deliver by MX unless a scenario sets a relay host"),
    Param("maillog_file", "/var/log/mail.log", "Postfix's own logger: the log is the observation"),
    Param("smtputf8_enable", "no", "same behaviour on every version (3.5 defaulted differently)"),
    Param("compatibility_level", "2", "the same defaults on every version, silences the warning"),
    Param("smtp_connect_timeout", "5s", "an unreachable peer fails in seconds, not 30 s"),
    Param("queue_run_delay", "10s", "deferred mail is retried soon (tests, not 300 s)"),
    Param("minimal_backoff_time", "10s", "shortest retry interval"),
    Param("maximal_backoff_time", "20s", "longest retry interval"),
    Param(
        "smtp_address_preference",
        "ipv4",
        "a peer with both an A and an AAAA record is reached over IPv4, not at random (Postfix's 'any')",
    ),
    Param("alias_maps", "hash:/etc/aliases", "local aliases"),
    Param("alias_database", "hash:/etc/aliases", "local aliases built by newaliases"),
    Param("biff", "no", "no comsat service in containers"),
)

# A node with a ``dkim:`` key: OpenDKIM signs what Postfix receives by SMTP and what is
# submitted locally (pickup), on loopback.
POSTFIX_DKIM: tuple[Param, ...] = (
    Param("smtpd_milters", POSTFIX_MILTER, "OpenDKIM signs mail received by SMTP"),
    Param("non_smtpd_milters", POSTFIX_MILTER, "OpenDKIM signs locally submitted mail (sendmail command)"),
    Param(
        "milter_default_action",
        POSTFIX_DEFAULT_ACTION,
        "a signer that is down or fails: 4xx, the mail is retried, never sent unsigned",
    ),
)

# With a user's own main.cf (the ``files:`` node key) these defaults apply only where it is
# silent: they are the production configuration's to decide. Every other parameter above is
# what the topology needs (its names, addresses, log, protocols) or what keeps a test fast
# (timeouts, retries), and is applied over the user's main.cf.
YIELD_TO_USER_MAIN_CF = frozenset(
    {
        "myorigin",
        "mydestination",
        "mynetworks",
        "relayhost",
        "smtputf8_enable",
        "compatibility_level",
        "alias_maps",
        "alias_database",
        "biff",
    }
)
