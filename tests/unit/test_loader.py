"""The scenario loader: every malformed file fails with its file, line, key path and problem.

The malformed files live in ``scenarios/bad/``, one mistake each; ``BAD_CASES`` is the table
of what the loader must say about them. Mistakes in a kind's own settings are beside that
kind's tests (``kinds/<kind>/bad/``, ``kinds/<kind>/test_<kind>_settings.py``). No Docker needed.
"""

from __future__ import annotations

import ipaddress
import re
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from harness.errors import HarnessError, ScenarioError
from harness.kinds.postfix.settings import PostfixSettings
from harness.kinds.sendmail.settings import SendmailSettings
from harness.kinds.sink.settings import SinkSettings
from harness.scenario.loader import TOP_KEYS, load_scenario, load_scenario_text, node_keys
from harness.scenario.model import SUITES, DkimSigning
from harness.steps import STEPS
from harness.steps.expectations import ExpectLog

HERE = Path(__file__).parent
BAD = HERE / "scenarios" / "bad"
GOOD = HERE / "scenarios" / "good"
REPO = HERE.parent.parent

# file, line, key path, problem (a stable part of it; None: the whole problem text is given)
BAD_CASES: list[tuple[str, int | None, str, str]] = [
    # YAML itself
    ("invalid_yaml.yaml", 5, "", "not valid YAML: expected ',' or '}', but got ':'"),
    ("empty.yaml", None, "", "the file is empty"),
    ("duplicate_key.yaml", 8, "nodes.mx.kind", "this key appears twice in the same mapping"),
    (
        "unknown_tag.yaml",
        1,
        "description",
        "cannot read this value: could not determine a constructor for the tag '!include'",
    ),
    ("recursive_alias.yaml", 5, "tags[1]", "this alias refers to a node that contains it"),
    # top level
    ("unknown_top_key.yaml", 3, "node", "unknown key 'node' in a scenario"),
    ("missing_networks.yaml", 1, "", "a scenario needs the key 'networks'"),
    ("empty_suites.yaml", 1, "suites", "suites is empty: the scenario would never run"),
    ("transcripts_not_boolean.yaml", 2, "transcripts", "transcripts must be true or false, not a string 'always'"),
    # networks
    (
        "bad_subnet.yaml",
        3,
        "networks.lan.subnet",
        "'10.201.0.1/24' is not an IPv4 subnet: 10.201.0.1/24 has host bits set",
    ),
    ("public_subnet.yaml", 3, "networks.lan.subnet", "subnet 8.8.8.0/24 must be a private range of at least /29"),
    (
        "overlapping_subnets.yaml",
        3,
        "networks.dmz.subnet",
        "subnet 10.201.0.128/25 overlaps network 'lan' (10.201.0.0/24)",
    ),
    # nodes
    ("unknown_kind.yaml", 5, "nodes.mx.kind", "unknown node kind 'postfx'"),
    ("unqualified_hostname.yaml", 6, "nodes.mx.hostname", "hostname 'mx' is not a fully qualified domain name"),
    ("ip_outside_subnet.yaml", 8, "nodes.mx.networks.lan", "10.202.0.30 is not inside network 'lan' (10.201.0.0/24)"),
    (
        "ip_gateway.yaml",
        8,
        "nodes.mx.networks.lan",
        "10.201.0.1 is reserved in 10.201.0.0/24 (network, gateway or broadcast)",
    ),
    ("duplicate_ip.yaml", 9, "nodes.pf.networks.lan", "10.201.0.30 is already node 'mx's address"),
    ("unknown_network.yaml", 8, "nodes.mx.networks.lna", "no network named 'lna'"),
    ("hosts_bad_address.yaml", 9, "nodes.pf.hosts.hostc.example.test", "'hostc.example.test' is not an IP address"),
    ("hosts_bad_name.yaml", 9, "nodes.pf.hosts.10.201.0.40", "'host_c.example.test' is not a host name"),
    (
        "files_target_relative.yaml",
        9,
        "nodes.pf.files.etc/postfix/main.cf",
        "'etc/postfix/main.cf' is not an absolute path in the node",
    ),
    (
        "files_target_outside_etc.yaml",
        9,
        "nodes.pf.files./var/spool/postfix/main.cf",
        "'/var/spool/postfix/main.cf' is not a file path under /etc/",
    ),
    (
        "files_target_dotdot.yaml",
        9,
        "nodes.pf.files./etc/postfix/../shadow",
        "'/etc/postfix/../shadow' has a '..' in it",
    ),
    (
        "files_source_missing.yaml",
        9,
        "nodes.pf.files./etc/postfix/main.cf",
        "the source file 'files/prod-main.cf' does not exist (looked for ",
    ),
    (
        "files_source_binary.yaml",
        9,
        "nodes.pf.files./etc/postfix/transport.db",
        "the source file 'files/table.db' is not text (it holds NUL bytes)",
    ),
    (
        "files_and_postfix_maps.yaml",
        9,
        "nodes.pf.files./etc/postfix/transport",
        "/etc/postfix/transport is written by both files: and postfix.maps",
    ),
    (
        "postfix_on_sendmail.yaml",
        8,
        "nodes.sm.postfix",
        "node 'sm' is of kind sendmail: 'postfix' settings do not apply",
    ),
    ("client_with_sink_settings.yaml", 8, "nodes.cl.sink", "node 'cl' is of kind client: 'sink' settings do not apply"),
    ("postfix_unknown_chroot.yaml", 9, "nodes.pf.postfix.chroot", "unknown chroot mode 'shipped'"),
    # a kind's own settings: tests/unit/kinds/<kind>/bad/ and test_<kind>_settings.py
    # dns
    ("bad_record_type.yaml", 9, "dns.zones.example.test[1]", "record type 'AAA' is not supported"),
    ("bad_a_record.yaml", 8, "dns.zones.example.test[0]", "'10.201.0.300' is not an IPv4 address for an A record"),
    # every record type's data is read by dnspython, as a zone file parser would
    ("bad_aaaa_record.yaml", 8, "dns.zones.example.test[0]", "'10.201.0.30' is not an IPv6 address for an AAAA record"),
    ("bad_txt_record.yaml", 8, "dns.zones.example.test[0]", "'\"v=spf1 -all' is not valid TXT data"),
    ("bad_srv_record.yaml", 8, "dns.zones.example.test[0]", "'10 mx' is not valid SRV data"),
    ("bad_record_owner.yaml", 8, "dns.zones.example.test[0]", "owner 'a..b' is not a domain name"),
    (
        "mx_without_preference.yaml",
        8,
        "dns.zones.example.test[0]",
        "MX data 'mx.example.test.' must be '<preference> <host>'",
    ),
    ("dns_server_not_bind.yaml", 7, "dns.server", "'mx' is not a node of kind bind"),
    ("dns_without_bind_node.yaml", 6, "dns.server", "'mx' is not a node of kind bind"),
    ("dns_two_bind_nodes.yaml", 6, "dns", "dns needs 'server:' naming one of the bind nodes (ns1, ns2)"),
    # steps
    ("unknown_action.yaml", 7, "steps[1].expect_queue_emtpy", "unknown action 'expect_queue_emtpy'"),
    ("two_actions.yaml", 6, "steps[0]", "a step has exactly one action, found 2: flush, expect_queue_empty"),
    ("step_missing_key.yaml", 6, "steps[0].send", "'send' needs the key 'to' (envelope recipients)"),
    ("unknown_node_reference.yaml", 7, "steps[0].flush.node", "no node named 'pff'"),
    ("captured_at_non_sink.yaml", 9, "steps[1].expect_captured.at", "'pf' is a postfix node, not a sink"),
    ("message_before_send.yaml", 9, "steps[0].expect_captured.message", "no earlier send has id 'm1'"),
    ("duplicate_message_id.yaml", 8, "steps[1].send.id", "message id 'm1' is used by an earlier send"),
    ("invalid_regex.yaml", 8, "steps[0].expect_log.match", "'status=sent (250' is not a valid regular expression"),
    (
        "address_test_at_sink.yaml",
        7,
        "steps[0].expect_address.at",
        "'mx' is a sink node; the address test runs on postfix or sendmail nodes",
    ),
    (
        "address_test_rulesets_on_postfix.yaml",
        9,
        "steps[0].expect_address.rulesets",
        "the address test of postfix takes no rulesets",
    ),
    ("address_test_bad_rulesets.yaml", 9, "steps[0].expect_address.rulesets", "'3 0' is not a ruleset sequence"),
    (
        "address_test_without_fields.yaml",
        6,
        "steps[0].expect_address",
        "'expect_address' needs at least one of mailer, host, user",
    ),
    ("per_suite_unknown_suite.yaml", 10, "steps[0].per_suite.bookwrm", "unknown key 'bookwrm' in per_suite"),
    ("per_suite_message_id.yaml", 8, "steps[0].per_suite.trixie.id", "a message keeps its id in every suite"),
    ("send_without_server.yaml", 7, "steps[0].send", "an SMTP send from 'cl' needs 'server:' (the node to connect to)"),
    (
        "server_ip_outside_topology.yaml",
        10,
        "steps[0].send.server_ip",
        "10.201.0.99 is no node's address in this topology",
    ),
    (
        "per_suite_server_ip_outside_topology.yaml",
        10,
        "steps[0].per_suite.trixie.server_ip",
        "192.168.1.1 is no node's address in this topology",
    ),
    ("send_tls_contradicts_starttls.yaml", 7, "steps[0].send.tls", "'tls: implicit' contradicts 'starttls: true'"),
    ("send_unknown_client.yaml", 7, "steps[0].send.client", "'swak' is not one of builtin, swaks"),
    (
        "send_auth_unknown_mechanism.yaml",
        7,
        "steps[0].send.auth.mechanism",
        "mechanism 'CRAM-MD' is not PLAIN, LOGIN, CRAM-MD5 or auto",
    ),
    (
        "captured_unknown_tls_mode.yaml",
        8,
        "steps[1].expect_captured.tls_mode",
        "'smtps' is not one of none, starttls, implicit",
    ),
]

# dual-stack networks and IPv6 addresses
BAD_CASES += [
    (
        "subnet6_not_ipv6.yaml",
        4,
        "networks.lan.subnet6",
        "'10.201.1.0/24' is not an IPv6 subnet: At least 3 parts expected in '10.201.1.0'",
    ),
    (
        "subnet6_not_ula.yaml",
        4,
        "networks.lan.subnet6",
        "subnet6 2001:db8:201::/64 is not a unique local range (fc00::/7)",
    ),
    (
        "subnet6_too_small.yaml",
        4,
        "networks.lan.subnet6",
        "subnet6 fd42:201::/124 is smaller than the IPv4 subnet 10.201.0.0/24",
    ),
    ("subnet6_overlap.yaml", 7, "networks.dmz.subnet6", "subnet6 fd42:201::/96 overlaps network 'lan' (fd42:201::/64)"),
    (
        "ipv6_on_ipv4_network.yaml",
        8,
        "nodes.mx.networks.lan.ipv6",
        "network 'lan' is IPv4 only: it has no IPv6 address to give",
    ),
    (
        "ipv6_outside_subnet6.yaml",
        7,
        "nodes.mx.networks.lan.ipv6",
        "fd42:999::30 is not inside network 'lan' (fd42:201::/64)",
    ),
    (
        "ipv6_gateway.yaml",
        7,
        "nodes.mx.networks.lan.ipv6",
        "fd42:201::1 is reserved in fd42:201::/64 (network or Docker's gateway)",
    ),
    (
        "ipv6_taken_by_implied.yaml",
        8,
        "nodes.other.networks.lan",
        "fd42:201::28, the IPv6 address that 10.201.0.40 implies, is already node 'mx's address",
    ),
    (
        "address_mapping_without_ipv4.yaml",
        7,
        "nodes.mx.networks.lan",
        "node 'mx' address on 'lan' needs the key 'ipv4'",
    ),
    (
        "address_mapping_unknown_key.yaml",
        7,
        "nodes.mx.networks.lan.ip6",
        "unknown key 'ip6' in node 'mx' address on 'lan'",
    ),
    (
        "send_ipv6_without_dual_stack.yaml",
        7,
        "steps[0].send.family",
        "'cl' and 'mx' share no dual-stack network: 'mx' has no IPv6 address that 'cl' can reach",
    ),
    (
        "send_family_with_server_ip.yaml",
        7,
        "steps[0].send.family",
        "'family:' picks one of the server's addresses: 'server_ip:' already gives one",
    ),
]

# mailbox servers and fetches
BAD_CASES += [
    (
        "mailbox_server_on_sink.yaml",
        8,
        "nodes.mx.mailbox_server",
        "node 'mx' is of kind sink, which serves no mailboxes",
    ),
    ("mailbox_unknown_protocol.yaml", 10, "nodes.sm.mailbox_server.protocols[1]", "unknown mailbox protocol 'imap4'"),
    (
        "mailbox_user_not_in_users.yaml",
        12,
        "nodes.sm.mailbox_server.passwords.hana",
        "'hana' is not a local user of this node",
    ),
    ("mailbox_without_passwords.yaml", 9, "nodes.pf.mailbox_server", "mailbox_server needs the key 'passwords'"),
    (
        "mailbox_password_with_colon.yaml",
        9,
        "nodes.pf.mailbox_server.passwords.alice",
        "a password must be non-empty, without ':' or line breaks",
    ),
    (
        "fetch_from_mta.yaml",
        13,
        "steps[0].fetch.from",
        "'sm' is a sendmail node; mailboxes are fetched from client or sink nodes",
    ),
    (
        "fetch_server_without_mailbox.yaml",
        13,
        "steps[0].fetch.server",
        "'sm' has no mailbox_server: nothing there serves pop3",
    ),
    ("fetch_protocol_not_served.yaml", 13, "steps[0].fetch.protocol", "'pf' serves pop3, not imap"),
    ("fetch_unknown_protocol.yaml", 13, "steps[0].fetch.protocol", "'pop' is not one of pop3, imap"),
    (
        "fetch_user_without_password.yaml",
        13,
        "steps[0].fetch.user",
        "'bob' has no password in the mailbox_server of 'pf'",
    ),
    ("fetched_before_fetch.yaml", 14, "steps[1].expect_fetched.fetch", "no earlier fetch has id 'f1'"),
    (
        "expect_fetched_without_message_or_count.yaml",
        14,
        "steps[1].expect_fetched",
        "'expect_fetched' needs 'message:' or 'count:' (or both)",
    ),
    ("duplicate_fetch_id.yaml", 14, "steps[1].fetch.id", "fetch id 'f1' is used by an earlier fetch"),
    # mail authentication verdicts at the sink
    (
        "captured_unknown_spf_verdict.yaml",
        8,
        "steps[1].expect_captured.spf",
        "'passed' is not one of pass, fail, softfail, neutral, none, temperror, permerror",
    ),
    (
        "captured_dkim_domain_without_dkim.yaml",
        11,
        "steps[1].expect_captured.dkim_domain",
        "'dkim_domain' names the signature whose verdict 'dkim' gives",
    ),
    (
        "captured_dmarc_reason_without_dmarc.yaml",
        12,
        "steps[1].expect_captured.dmarc_reason",
        "'dmarc_reason' is the reason of a DMARC verdict that is not expected",
    ),
]

# DKIM signers
BAD_CASES += [
    ("dkim_unknown_key.yaml", 9, "nodes.pf.dkim.selecter", "unknown key 'selecter' in dkim"),
    ("dkim_without_domain.yaml", 9, "nodes.pf.dkim", "dkim needs the key 'domain'"),
    ("dkim_selector_not_label.yaml", 9, "nodes.pf.dkim.selector", "selector 's_1' is not a DNS label"),
    ("dkim_bits.yaml", 9, "nodes.pf.dkim.bits", "4096 bits is not a key size the harness makes"),
    ("dkim_unknown_canonicalization.yaml", 9, "nodes.pf.dkim.canonicalization", "unknown canonicalization 'relaxed'"),
    ("dkim_on_sink.yaml", 8, "nodes.mx.dkim", "node 'mx' is of kind sink, which cannot sign with DKIM"),
    (
        "dkim_without_dns.yaml",
        8,
        "nodes.pf.dkim",
        "node 'pf' signs with DKIM, but the topology has no DNS server to publish its key",
    ),
    (
        "dkim_domain_without_zone.yaml",
        9,
        "nodes.pf.dkim.domain",
        "no zone in dns.zones holds branch.test: the key's TXT record s1._domainkey.branch.test could not be published",
    ),
    (
        "dkim_sign_domain_without_zone.yaml",
        12,
        "nodes.pf.dkim.sign[1]",
        "no zone in dns.zones holds shop.test: the key's TXT record s1._domainkey.shop.test could not be published",
    ),
    (
        "dkim_key_record_in_zone.yaml",
        9,
        "nodes.pf.dkim.domain",
        "zone office.test. already has a TXT record at s1._domainkey.office.test",
    ),
]

# Where the loader must also say how to fix it: file -> the fix text.
FIXES = {
    "subnet6_not_ula.yaml": "use a ULA prefix such as fd42:201::/64: topology traffic never leaves the machine",
    "subnet6_too_small.yaml": "use at least a /120, e.g. a /64",
    "ipv6_on_ipv4_network.yaml": "add 'subnet6:' (a ULA prefix such as fd42:201::/64) to network 'lan'",
    "ipv6_taken_by_implied.yaml": "give this node its own with 'ipv6:'",
    "send_ipv6_without_dual_stack.yaml": "give a network they share a 'subnet6:'",
    "captured_unknown_spf_verdict.yaml": "did you mean 'pass'?",
    "captured_dkim_domain_without_dkim.yaml": "add 'dkim:'",
    "captured_dmarc_reason_without_dmarc.yaml": "add 'dmarc:' (the verdict)",
    "unknown_top_key.yaml": "did you mean 'nodes'?",
    "unknown_kind.yaml": "did you mean 'postfix'?",
    "unknown_network.yaml": "did you mean 'lan'?",
    "unknown_action.yaml": "did you mean 'expect_queue_empty'?",
    "unknown_node_reference.yaml": "did you mean 'pf'?",
    "per_suite_unknown_suite.yaml": "did you mean 'bookworm'?",
    "bad_record_type.yaml": "did you mean 'AAAA'?",
    "dns_server_not_bind.yaml": "allowed: ns",
    "dns_without_bind_node.yaml": "add a node of kind bind",
    "missing_networks.yaml": "add 'networks:'",
    "address_test_rulesets_on_postfix.yaml": "remove 'rulesets'",
    "postfix_unknown_chroot.yaml": "did you mean 'as_shipped'?",
    "send_tls_contradicts_starttls.yaml": "keep one of the two",
    "send_unknown_client.yaml": "did you mean 'swaks'?",
    "send_auth_unknown_mechanism.yaml": "did you mean 'CRAM-MD5'?",
    "hosts_bad_address.yaml": "write the address as the key and its names as the value, e.g. '10.201.0.30: hostc.example.test hostc'",
    "files_target_relative.yaml": "write e.g. '/etc/postfix/main.cf: files/prod-main.cf'",
    "files_source_missing.yaml": "the path is relative to the scenario file",
    "files_and_postfix_maps.yaml": "keep one of them (the user's file, or postfix.maps)",
    "mailbox_server_on_sink.yaml": "POP3/IMAP mailbox servers are postfix or sendmail nodes",
    "mailbox_unknown_protocol.yaml": "did you mean 'imap'?",
    "mailbox_user_not_in_users.yaml": "add 'hana' to the node's users: their mailboxes are the ones served",
    "fetch_server_without_mailbox.yaml": "add 'mailbox_server:' to that node, or expect: refused",
    "fetch_protocol_not_served.yaml": "add it to the node's mailbox_server.protocols, or expect: refused",
    "fetched_before_fetch.yaml": "a mailbox must be fetched before it is checked",
    "dkim_unknown_key.yaml": "did you mean 'selector'?",
    "dkim_without_domain.yaml": "add 'domain:'",
    "dkim_selector_not_label.yaml": "use letters, digits and '-' (e.g. s1 or mail2026): the key is published as SELECTOR._domainkey.DOMAIN",
    "dkim_bits.yaml": "use 1024 or 2048",
    "dkim_unknown_canonicalization.yaml": "give header/body: relaxed/simple, relaxed/relaxed, simple/simple, simple/relaxed (the first is Debian's default)",
    "dkim_on_sink.yaml": "DKIM signers are postfix or sendmail nodes",
    "dkim_without_dns.yaml": "add a node of kind bind and a zone for office.test under dns.zones",
    "dkim_domain_without_zone.yaml": "add 'branch.test: []' (or a parent domain) under dns.zones",
    "dkim_sign_domain_without_zone.yaml": "add 'shop.test: []' (or a parent domain) under dns.zones",
    "dkim_key_record_in_zone.yaml": "leave it out: the harness publishes the key node 'pf' makes when it starts",
    "transcripts_not_boolean.yaml": "write 'transcripts: true' to record every SMTP session of the topology, "
    "or leave the key out",
}


def load_error(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


@pytest.mark.parametrize(
    ("file", "line", "path", "problem"), BAD_CASES, ids=[c[0].removesuffix(".yaml") for c in BAD_CASES]
)
def test_malformed_scenario_names_file_line_path_and_problem(
    file: str, line: int | None, path: str, problem: str
) -> None:
    error = load_error(BAD / file)
    assert (Path(error.file).name, error.line, error.path) == (file, line, path)
    assert problem in error.problem
    assert str(error).startswith(f"{error.file}:{line}:" if line is not None else f"{error.file}:")
    if file in FIXES:
        assert error.fix == FIXES[file]


def test_every_bad_file_is_in_the_table() -> None:
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted(c[0] for c in BAD_CASES)


def test_scenario_error_text_and_root() -> None:
    error = load_error(BAD / "unknown_kind.yaml")
    assert isinstance(error, HarnessError)
    assert str(error) == f"{error.file}:5: nodes.mx.kind: unknown node kind 'postfx' (did you mean 'postfix'?)"


def test_missing_file_is_a_scenario_error() -> None:
    error = load_error(BAD / "no-such-file.yaml")
    assert error.line is None
    assert error.problem.startswith("cannot read the file")


# ---- good paths ----------------------------------------------------------------------------
MINIMAL = """\
networks:
  lan: {subnet: 10.201.0.0/24}
nodes:
  mx: {kind: sink, hostname: mx.example.test, networks: {lan: 10.201.0.30}}
  sm: {kind: sendmail, hostname: sm.example.test, networks: {lan: 10.201.0.11}}
"""


def test_smoke_scenario_loads() -> None:
    scenario = load_scenario(REPO / "scenarios" / "smoke.yaml")
    assert scenario.name == "smoke"
    assert [n.name for n in scenario.nodes] == ["ns", "pf", "sm", "mx"]
    assert scenario.dns_node is not None and scenario.dns_node.name == "ns"
    assert [z.origin for z in scenario.dns.zones] == ["example.test.", "remote.test."]  # type: ignore[union-attr]
    assert [s.action for s in scenario.steps][:3] == ["send", "send", "expect_captured"]
    first_send = next(i for i, text in enumerate(Path(scenario.file).read_text().splitlines(), 1) if "- send:" in text)
    assert scenario.steps[0].line == first_send


@pytest.mark.parametrize("path", sorted((REPO / "scenarios").rglob("*.yaml")), ids=lambda p: p.name)
def test_every_repo_scenario_loads(path: Path) -> None:
    load_scenario(path)


def test_defaults() -> None:
    scenario = load_scenario_text(MINIMAL, "minimal.yaml")
    assert scenario.name == "minimal"
    assert scenario.suites == SUITES
    assert scenario.dns is None
    assert scenario.steps == ()
    assert scenario.node("mx").settings == SinkSettings()
    sendmail = scenario.node("sm").settings
    assert isinstance(sendmail, SendmailSettings)
    assert (sendmail.queue_interval, sendmail.listen) == ("10s", "0.0.0.0")


def test_per_suite_overrides_resolve_for_their_suite_only() -> None:
    text = (
        MINIMAL
        + """\
steps:
  - send: {id: m1, from: sm, to: bob@example.test}
  - expect_log:
      at: sm
      match: 'stat=Sent'
    per_suite:
      trixie: {match: 'stat=Sent \\(Ok'}
"""
    )
    step = load_scenario_text(text, "per-suite.yaml").steps[1]
    assert step.resolved("bookworm") == ExpectLog(at="sm", match="stat=Sent")
    assert step.resolved("trixie") == ExpectLog(at="sm", match=r"stat=Sent \(Ok")


def test_every_key_example_loads() -> None:
    scenario = load_scenario(GOOD / "every_key.yaml")
    assert scenario.suites == ("bookworm", "trixie")
    pf = scenario.node("pf").settings
    assert isinstance(pf, PostfixSettings) and ("compatibility_level", "3.6") in pf.main and pf.remove_sasl_plugins
    assert [(m.path, m.type) for m in pf.maps] == [
        ("/etc/postfix/transport", "hash"),
        ("/etc/postfix/clients.cidr", "cidr"),
    ]
    assert scenario.node("pf").hosts == (
        ("10.201.0.40", ("hostc.example.test", "hostc")),
        ("10.201.0.41", ("hostd.example.test", "hostd")),
    )
    sink = scenario.node("mx").settings
    assert (
        isinstance(sink, SinkSettings)
        and sink.ports == (25, 587, 465)
        and sink.implicit_tls == (465,)
        and sink.auth is not None
        and not sink.auth.required
    )
    assert scenario.dns is not None and ("broken.test.", "servfail") in scenario.dns.behaviours
    assert {s.action for s in scenario.steps} >= {"send", "expect_captured", "sleep", "reset_captures"}


def test_every_top_level_key_appears_in_the_every_key_example() -> None:
    used = set(yaml.safe_load((GOOD / "every_key.yaml").read_text()))
    assert used == set(TOP_KEYS)
    assert load_scenario(GOOD / "every_key.yaml").transcripts is True
    assert load_scenario_text(MINIMAL, "minimal.yaml").transcripts is False


def test_every_node_key_appears_in_the_every_key_example() -> None:
    nodes = yaml.safe_load((GOOD / "every_key.yaml").read_text())["nodes"]
    used = {key for body in nodes.values() for key in body}
    assert used == set(node_keys())


def test_the_dkim_key_loads_with_its_defaults() -> None:
    scenario = load_scenario(GOOD / "every_key.yaml")
    assert scenario.node("pf").dkim == DkimSigning(
        domain="example.test", selector="s2026", sign=("example.test",), bits=2048, canonicalization="relaxed/simple"
    )
    sm = scenario.node("sm").dkim
    assert sm == DkimSigning(domain="example.test", selector="sm")
    assert (sm.domains, sm.record_name("example.test")) == (("example.test",), "sm._domainkey.example.test.")
    assert scenario.node("mx").dkim is None


def test_every_action_appears_in_the_every_key_example() -> None:
    used = {s.action for s in load_scenario(GOOD / "every_key.yaml").steps}
    assert used == set(STEPS.names())


def test_action_without_keys_may_have_nothing_after_the_colon() -> None:
    step = load_scenario_text(MINIMAL + "steps:\n  - reset_captures:\n", "reset.yaml").steps[0]
    assert (step.action, step.resolved("bookworm"), step.shown) == ("reset_captures", STEPS["reset_captures"](), ())


def test_numbers_in_text_settings_keep_their_spelling() -> None:
    text = MINIMAL + "  pf:\n    kind: postfix\n    hostname: pf.example.test\n    networks: {lan: 10.201.0.10}\n"
    text += "    postfix: {main: {compatibility_level: 3.10, smtp_tls_loglevel: 01}}\n"
    settings = load_scenario_text(text, "numbers.yaml").node("pf").settings
    assert isinstance(settings, PostfixSettings)
    main = dict(settings.main)
    assert main == {"compatibility_level": "3.10", "smtp_tls_loglevel": "01"}


def test_a_dual_stack_network_gives_every_node_an_ipv6_address() -> None:
    scenario = load_scenario_text(
        textwrap.dedent(
            """\
            networks:
              lan: {subnet: 10.201.0.0/24, subnet6: "fd42:201::/64"}
              old: {subnet: 10.202.0.0/24}
            nodes:
              mx: {kind: sink, hostname: mx.example.test, networks: {lan: 10.201.0.30, old: 10.202.0.30}}
              pf: {kind: postfix, hostname: pf.example.test, networks: {lan: {ipv4: 10.201.0.10, ipv6: "FD42:201::0:10"}}}
              v4: {kind: sink, hostname: v4.example.test, networks: {old: 10.202.0.40}}
            """
        ),
        "dual.yaml",
    )
    assert scenario.network("lan").subnet6 == ipaddress.IPv6Network("fd42:201::/64")
    assert scenario.network("lan").dual_stack and not scenario.network("old").dual_stack
    mx, pf, v4 = scenario.node("mx"), scenario.node("pf"), scenario.node("v4")
    # The same host number as the IPv4 address (30 = 0x1e), on the dual-stack network only.
    assert [(a.network, str(a.ip6) if a.ip6 else None) for a in mx.attachments] == [
        ("lan", "fd42:201::1e"),
        ("old", None),
    ]
    assert [str(ip) for ip in pf.ip6s] == ["fd42:201::10"]
    assert v4.ip6s == ()


def test_a_large_subnet_loads_quickly() -> None:
    started = time.monotonic()
    load_scenario_text(MINIMAL.replace("10.201.0.0/24", "10.0.0.0/8"), "large.yaml")
    assert time.monotonic() - started < 1.0


# ---- docs/scenario-format.md stays true --------------------------------------------------
DOC = REPO / "docs" / "scenario-format.md"


def doc_yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)


def test_doc_shows_the_every_key_example() -> None:
    example = "".join(
        line for line in (GOOD / "every_key.yaml").read_text().splitlines(True) if not line.startswith("#")
    )
    assert example.strip("\n") in DOC.read_text()


def test_doc_complete_examples_load() -> None:
    complete = [b for b in doc_yaml_blocks() if re.search(r"^networks:", b, re.M) and re.search(r"^nodes:", b, re.M)]
    assert len(complete) >= 2
    for block in complete:
        load_scenario_text(block, str(GOOD / "doc-example.yaml"))  # files: beside every_key.yaml


def test_doc_step_examples_load_on_the_every_key_topology() -> None:
    topology = (GOOD / "every_key.yaml").read_text().split("\nsteps:\n")[0]
    steps = [b for b in doc_yaml_blocks() if b.startswith("- ")]
    assert len(steps) == len(STEPS)
    scenario = load_scenario_text(
        topology + "\nsteps:\n" + textwrap.indent("".join(steps), "  "), str(GOOD / "doc-steps.yaml")
    )
    assert {s.action for s in scenario.steps} == set(STEPS.names())


def test_doc_lists_every_action_and_key() -> None:
    sections = re.split(r"^### ", DOC.read_text(), flags=re.M)
    for step in STEPS:
        section = next(s for s in sections if s.startswith(f"`{step.action}`"))
        for key in step.keys():
            assert f"| `{key.name}` |" in section, (step.action, key.name)
