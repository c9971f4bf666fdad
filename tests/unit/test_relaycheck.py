"""The open-relay battery's address forms."""

from __future__ import annotations

import pytest

from harness.relaycheck import (
    BOUNCED,
    MAILBOX,
    QUEUED,
    RELAYED,
    UNSEEN,
    FormResult,
    RelayForm,
    RelayReport,
    relay_forms,
)


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


def test_an_accepted_form_is_closed_only_when_it_bounced_without_delivery() -> None:
    refused = FormResult(RelayForm(2, "a@b", "x@remote.test"), 550, None)
    bounced = FormResult(RelayForm(1, "", "x@remote.test"), 250, 250, fate=BOUNCED, where="mail: User unknown")
    report = RelayReport("mail", [bounced, refused])
    assert not report.open
    assert report.summary() == (
        "All tests performed, no relays accepted (mail; 1 form(s) accepted at DATA, all 1 bounced without delivery)"
    )
    assert "accepted, then bounced at mail: User unknown" in bounced.line()
    assert "refused" in refused.line()


@pytest.mark.parametrize(
    ("fate", "where", "shown"),
    [
        (RELAYED, "remote-mx", "RELAYED to remote-mx"),
        (QUEUED, "mail", "accepted and QUEUED at mail"),
        (MAILBOX, "store", "DELIVERED to a mailbox at store"),
        (UNSEEN, "", "its fate was not seen"),
    ],
)
def test_an_accepted_form_that_was_delivered_queued_or_lost_from_sight_is_open(
    fate: str, where: str, shown: str
) -> None:
    form = FormResult(RelayForm(1, "", "x@remote.test"), 250, 250, fate=fate, where=where)
    if fate == RELAYED:
        form.delivered_at.append(where)
    report = RelayReport("mail", [form, FormResult(RelayForm(2, "a@b", "x@remote.test"), 550, None)])
    assert report.open
    assert report.summary().startswith("mail is an OPEN RELAY: 1/2 forms")
    assert shown in form.line()
