"""A sink's settings (``nodes.<name>.sink``) as the loader reads them: every malformed file in
``bad/`` fails with its file, line, key path and problem. No Docker needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from kindtests import BadCase, assert_bad_file, assert_every_bad_file_is_in, bad_case_ids

from harness.kinds.sink import KIND as SINK
from harness.kinds.sink import SmtpsBannerWait, render
from harness.kinds.sink.settings import SinkSettings
from harness.scenario.loader import load_scenario_text

BAD = Path(__file__).parent / "bad"

BAD_CASES: list[BadCase] = [
    ("sink_reply_bad_code.yaml", 10, "nodes.mx.sink.replies[0].code", "650 is not an SMTP reply code"),
    ("sink_auth_without_users.yaml", 9, "nodes.mx.sink.auth", "sink auth needs at least one user"),
    ("sink_without_ports.yaml", 9, "nodes.mx.sink.ports", "a sink needs at least one port"),
    ("sink_reply_unknown_command.yaml", 9, "nodes.mx.sink.replies[0].command", "unknown command 'starttls'"),
    # ports: a number or {port, tls: implicit}
    (
        "sink_port_tls_not_implicit.yaml",
        9,
        "nodes.mx.sink.ports[1].tls",
        "a port's tls is 'implicit' (SMTPS, TLS from the first byte), not 'starttls'",
    ),
    ("sink_port_twice.yaml", 9, "nodes.mx.sink.ports[1]", "port 25 is listed twice"),
    ("sink_port_without_number.yaml", 10, "nodes.mx.sink.ports[0]", "a sink port needs the key 'port'"),
    ("sink_port_unknown_key.yaml", 9, "nodes.mx.sink.ports[0].cert", "unknown key 'cert' in a sink port"),
    # auth
    (
        "sink_auth_unknown_mechanism.yaml",
        10,
        "nodes.mx.sink.auth.mechanisms[1]",
        "the sink offers PLAIN, LOGIN, CRAM-MD5, not 'CRAM-MD4'",
    ),
    ("sink_auth_no_mechanisms.yaml", 10, "nodes.mx.sink.auth.mechanisms", "no mechanism offered"),
    (
        "sink_auth_require_tls_without_tls.yaml",
        11,
        "nodes.mx.sink.auth.require_tls",
        "AUTH after STARTTLS needs the sink to offer STARTTLS",
    ),
    # authentication: auto | on | off
    (
        "sink_authentication_unknown.yaml",
        9,
        "nodes.mx.sink.authentication",
        "authentication is one of auto, on, off, not 'sometimes'",
    ),
    (
        "sink_authentication_off_but_asked.yaml",
        16,
        "steps[1].expect_captured.dkim",
        "'mx' checks no SPF, DKIM or DMARC ('authentication: off' in its sink settings)",
    ),
]


@pytest.mark.parametrize(("file", "line", "path", "problem"), BAD_CASES, ids=bad_case_ids(BAD_CASES))
def test_malformed_sink_settings_name_file_line_path_and_problem(file: str, line: int, path: str, problem: str) -> None:
    assert_bad_file(BAD, file, line, path, problem)


def test_every_bad_file_is_in_the_table() -> None:
    assert_every_bad_file_is_in(BAD, BAD_CASES)


SINK_NODE = """\
networks:
  lan: {subnet: 10.201.0.0/24}
nodes:
  mx:
    kind: sink
    hostname: mx.example.test
    networks: {lan: 10.201.0.30}
    sink:
"""


def sink_settings(text: str) -> SinkSettings:
    settings = load_scenario_text(SINK_NODE + text, "sink.yaml").node("mx").settings
    assert isinstance(settings, SinkSettings)
    return settings


def test_a_port_with_tls_implicit_is_listened_on_and_speaks_smtps() -> None:
    settings = sink_settings("      ports: [25, {port: 465, tls: implicit}, {port: 587}]\n")
    assert (settings.ports, settings.implicit_tls, settings.starttls) == ((25, 465, 587), (465,), False)
    assert sink_settings("      ports: {port: 465, tls: implicit}\n").implicit_tls == (465,)
    assert sink_settings("      ports: 2525\n").ports == (2525,)


def test_the_smtps_port_is_waited_for_inside_tls() -> None:
    text = SINK_NODE + "      ports: [25, {port: 465, tls: implicit}]\n"
    waits = SINK.waits(load_scenario_text(text, "sink.yaml").node("mx"))
    assert [(type(w).__name__, w.port) for w in waits] == [("SmtpBannerWait", 25), ("SmtpsBannerWait", 465)]  # type: ignore[attr-defined]
    assert SmtpsBannerWait(465).description == "an SMTP 220 greeting inside TLS on port 465"


def test_auth_after_tls_may_rely_on_an_smtps_port_alone() -> None:
    text = "      ports: [25, {port: 465, tls: implicit}]\n      auth: {require_tls: true, users: {a: b}}\n"
    settings = sink_settings(text)
    assert settings.auth is not None and settings.auth.require_tls and not settings.starttls


def test_cram_md5_is_offered_only_when_listed() -> None:
    listed = sink_settings("      auth: {mechanisms: [CRAM-MD5], users: {a: b}}\n")
    assert listed.auth is not None and listed.auth.mechanisms == ("CRAM-MD5",)
    default = sink_settings("      auth: {users: {a: b}}\n")
    assert default.auth is not None and default.auth.mechanisms == ("PLAIN", "LOGIN")


CLIENT_AND_STEPS = """\
  cl:
    kind: client
    hostname: cl.example.test
    networks: {lan: 10.201.0.5}
steps:
  - send: {id: m1, from: cl, to: [a@example.test], server: mx}
"""


def checks_verdicts(text: str) -> bool:
    """Whether the rendered sink configuration asks the sink for SPF/DKIM/DMARC verdicts."""
    scenario = load_scenario_text(SINK_NODE + text, "sink.yaml")
    node = scenario.node("mx")
    assert isinstance(node.settings, SinkSettings)
    config = render.sink_config(scenario, node, node.settings)
    return config["authentication"] is not None


def test_authentication_auto_checks_only_for_a_scenario_that_reads_a_verdict_at_the_sink() -> None:
    plain = "      ports: [25]\n" + CLIENT_AND_STEPS
    assert sink_settings("      ports: [25]\n").authentication == "auto"
    assert not checks_verdicts(plain + "  - expect_captured: {at: mx, message: m1, rcpt: [a@example.test]}\n")
    for asked in ("spf: none", "dkim: none", "dmarc: none", "authentication_results: spf="):
        assert checks_verdicts(plain + f"  - expect_captured: {{at: mx, message: m1, {asked}}}\n"), asked
    # a verdict asked on one suite only is enough
    per_suite = "  - expect_captured: {at: mx, message: m1}\n    per_suite: {trixie: {spf: none}}\n"
    assert checks_verdicts(plain + per_suite)


def test_authentication_on_and_off_do_what_they_say_whatever_the_steps() -> None:
    assert checks_verdicts("      authentication: on\n" + CLIENT_AND_STEPS)
    assert checks_verdicts("      authentication: 'on'\n" + CLIENT_AND_STEPS)
    assert not checks_verdicts("      authentication: off\n" + CLIENT_AND_STEPS)
    assert sink_settings("      authentication: auto\n").authentication == "auto"
