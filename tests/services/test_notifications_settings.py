"""The laptop's mail server settings: stored in local_meta (never synced), checked as saved naming
the field, the password kept out of repr and logs; the background send with them against a real
SMTP server on loopback (STARTTLS, login), with one progress callback that can stop it."""

from __future__ import annotations

import logging

import pytest

from fieldrep.domain.errors import Cancelled
from fieldrep.services.context import Context
from fieldrep.services.notifications import smtp_settings
from fieldrep.services.notifications.smtp_sender import SmtpConfig
from fieldrep.services.notifications.smtp_settings import SettingsError, SmtpSettings
from fieldrep.store.catalog import synced_tables
from tests.services.rewards_support import add_referral, make_org, move, rows
from tests.services.test_notifications_smtp import (  # noqa: F401
    PASSWORD,
    USER,
    Mailbox,
    cert,
    smtp,
)


def _settings(config: SmtpConfig, **kw: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": config.host,
        "port": config.port,
        "starttls": True,
        "username": USER,
        "password": PASSWORD,
        "sender": config.sender,
        "cafile": config.cafile or "",
    }
    values.update(kw)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def test_settings_are_kept_on_this_laptop_and_the_password_is_never_shown(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    assert not smtp_settings.load(ctx.conn).configured
    assert "local_meta" not in synced_tables()
    with caplog.at_level(logging.DEBUG):
        saved = smtp_settings.save(
            ctx,
            SmtpSettings(
                host="smtp.example.com", username="mailer", password="hunter2!", sender="r@x.test"
            ),
        )
    assert (saved.host, saved.port, saved.starttls, saved.password) == (
        "smtp.example.com",
        587,
        True,
        "hunter2!",
    )
    assert "hunter2" not in repr(saved)
    assert "hunter2" not in repr(saved.config())
    assert "hunter2" not in caplog.text
    # a blank password in the form keeps the saved one; a new one replaces it
    kept = smtp_settings.save(
        ctx, SmtpSettings(host="mail.x.test", username="mailer", sender="r@x.test")
    )
    assert (kept.host, kept.password) == ("mail.x.test", "hunter2!")
    # no user name: no password kept either
    anon = smtp_settings.save(ctx, SmtpSettings(host="relay", port=25, sender="r@x.test"))
    assert (anon.username, anon.password) == ("", "")


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        (SmtpSettings(host="", sender="a@b.c"), "host"),
        (SmtpSettings(host="smtp example", sender="a@b.c"), "host"),
        (SmtpSettings(host="smtp.x", port=0, sender="a@b.c"), "port"),
        (SmtpSettings(host="smtp.x", sender="nobody"), "sender"),
        (SmtpSettings(host="smtp.x", sender="a@b.c", password="pw"), "username"),
        (SmtpSettings(host="smtp.x", sender="a@b.c", username="u", starttls=False), "starttls"),
        (SmtpSettings(host="smtp.x", sender="a@b.c", cafile="/no/such.pem"), "cafile"),
    ],
)
def test_settings_that_cannot_work_are_refused_naming_the_field(
    ctx: Context, settings: SmtpSettings, field: str
) -> None:
    with pytest.raises(SettingsError) as err:
        smtp_settings.save(ctx, settings, keep_password=False)
    assert err.value.field == field
    assert not smtp_settings.load(ctx.conn).configured  # nothing stored


def test_the_background_send_uses_the_saved_settings_and_can_be_stopped(
    ctx: Context,
    smtp: tuple[Mailbox, SmtpConfig],  # noqa: F811
) -> None:
    box, config = smtp
    assert smtp_settings.send_outbox(ctx).stopped == smtp_settings.NOT_CONFIGURED
    smtp_settings.save(ctx, _settings(config))
    org = make_org(ctx)
    for name in ("Bob", "Carl", "Dora"):
        move(ctx, add_referral(ctx, org, name=name), "qualified")
    heard: list[tuple[int, int | None, str]] = []

    def stop_at_second(done: int, total: int | None, text: str) -> None:
        heard.append((done, total, text))
        if done == 1:
            raise Cancelled

    with pytest.raises(Cancelled):
        smtp_settings.send_outbox(ctx, stop_at_second)
    assert heard == [(0, 3, "Sending e-mail 1 of 3"), (1, 3, "Sending e-mail 2 of 3")]
    statuses = sorted(r["status"] for r in rows(ctx, "notifications", "channel = 'email'"))
    assert statuses == ["queued", "queued", "sent"]  # the rest wait, none half-sent
    report = smtp_settings.send_outbox(ctx)
    assert len(report.sent) == 2
    assert report.stopped is None
    assert len(box.messages) == 3
    assert len({m["Message-ID"] for m in box.messages}) == 3
    assert smtp_settings.failed_count(ctx.conn, ctx.writer.device_id) == 0


def test_a_refused_login_with_the_saved_settings_stops_and_keeps_everything(
    ctx: Context,
    smtp: tuple[Mailbox, SmtpConfig],  # noqa: F811
) -> None:
    box, config = smtp
    smtp_settings.save(ctx, _settings(config, password="wrong"))
    org = make_org(ctx)
    move(ctx, add_referral(ctx, org), "qualified")
    report = smtp_settings.send_outbox(ctx)
    assert report.stopped is not None
    assert "refused the login" in report.stopped
    assert "wrong" not in report.stopped
    assert [r["status"] for r in rows(ctx, "notifications", "channel = 'email'")] == ["queued"]
    assert box.messages == []
