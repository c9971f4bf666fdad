"""The open-relay battery's address forms."""

from __future__ import annotations

from harness.relaycheck import FormResult, RelayForm, RelayReport, relay_forms


def test_the_sixteen_forms_of_a_relay_tester() -> None:
    forms = relay_forms("remote.test", "mail.example.test", "10.0.0.25")
    assert [f.number for f in forms] == list(range(1, 17))
    assert [(f.mail_from, f.rcpt_to) for f in forms] == [
        ("", "relaytest@remote.test"),
        ("antispam@remote.test", "relaytest@remote.test"),
        ("antispam@mail.example.test", "relaytest@remote.test"),
        ("antispam@[10.0.0.25]", "relaytest@remote.test"),
        ("antispam@[10.0.0.25]", "relaytest%remote.test@[10.0.0.25]"),
        ("antispam@[10.0.0.25]", "relaytest%remote.test@mail.example.test"),
        ("antispam@[10.0.0.25]", '"relaytest@remote.test"'),
        ("antispam@[10.0.0.25]", '"relaytest%remote.test"'),
        ("antispam@[10.0.0.25]", "relaytest@remote.test@[10.0.0.25]"),
        ("antispam@[10.0.0.25]", '"relaytest@remote.test"@[10.0.0.25]'),
        ("antispam@[10.0.0.25]", "relaytest@remote.test@mail.example.test"),
        ("antispam@[10.0.0.25]", "@[10.0.0.25]:relaytest@remote.test"),
        ("antispam@[10.0.0.25]", "@mail.example.test:relaytest@remote.test"),
        ("antispam@[10.0.0.25]", "remote.test!relaytest"),
        ("antispam@[10.0.0.25]", "remote.test!relaytest@[10.0.0.25]"),
        ("antispam@[10.0.0.25]", "remote.test!relaytest@mail.example.test"),
    ]


def test_only_a_message_that_reached_a_sink_makes_a_relay_open() -> None:
    accepted_but_lost = FormResult(RelayForm(1, "", "x@remote.test"), 250, 250)
    refused = FormResult(RelayForm(2, "a@b", "x@remote.test"), 550, None)
    report = RelayReport("mail", [accepted_but_lost, refused])
    assert not report.open
    assert report.summary().startswith("All tests performed, no relays accepted (mail; 1 form(s) accepted at DATA")
    accepted_but_lost.delivered_at.append("remote-mx")
    assert report.open
    assert report.summary() == "mail is an OPEN RELAY: 1/2 forms reached a sink"
