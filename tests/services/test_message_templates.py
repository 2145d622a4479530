"""Template editing helpers the editor dialog uses: reset to default, edited or not, the preview's
sample values."""

from __future__ import annotations

import pytest

from fieldrep.services.context import Context
from fieldrep.services.notifications import templates


def test_reset_forgets_the_saved_edit_and_only_that_one(ctx: Context) -> None:
    with ctx.writer.transaction() as conn:
        templates.save(conn, "referral_status", "${stage}", "Hi ${referrer_name}")
        templates.save(conn, "reward_issued", "${amount}", "Hi ${referrer_name}")
    assert templates.is_edited(ctx.conn, "referral_status")
    with ctx.writer.transaction() as conn:
        back = templates.reset(conn, "referral_status")
    assert back == templates.DEFAULTS["referral_status"]
    assert templates.load(ctx.conn, "referral_status") == back
    assert not templates.is_edited(ctx.conn, "referral_status")
    assert templates.load(ctx.conn, "reward_issued").subject == "${amount}"
    with pytest.raises(templates.TemplateError, match="there is no template 'nope'"):
        templates.reset(ctx.conn, "nope")


def test_every_field_has_help_and_a_sample_every_default_renders_with(ctx: Context) -> None:
    assert set(templates.FIELD_HELP) == templates.FIELDS
    assert set(templates.TITLES) == set(templates.DEFAULTS)
    for tpl in templates.DEFAULTS.values():
        subject, body = templates.render(tpl, templates.SAMPLE)
        assert "$" not in subject.replace("$200", "")
        assert templates.SAMPLE["referrer_name"] in body
