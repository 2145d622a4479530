"""The e-mail outbox against a real SMTP server on loopback (aiosmtpd), with STARTTLS and login:
sent once with a unique Message-ID, temporary failures retried later with growing delays,
permanent ones shown, a refused login or an unreachable server leaves everything waiting, and
no e-mail to a contact who did not consent."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from fieldrep.services.context import Context
from fieldrep.services.notifications import outbox, templates
from fieldrep.services.notifications.smtp_sender import SmtpConfig, send_due
from tests.services.rewards_support import add_referral, make_org, move, rows

USER, PASSWORD = "fieldrep", "s3cret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """What the loopback server received, and what it should refuse."""

    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    stall: threading.Event | None = None  # DATA waits for this (a server that stops answering)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, opts: Any
    ) -> str:
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.stall is not None:
            stall = self.stall
            await asyncio.get_running_loop().run_in_executor(None, stall.wait)
            return "451 too late"
        self.messages.append(message_from_bytes(envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key, crt = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(crt), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return crt, key


@pytest.fixture
def smtp(cert: tuple[Path, Path]) -> Iterator[tuple[Mailbox, SmtpConfig]]:
    crt, key = cert
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(crt, key)
    box = Mailbox()
    port = _free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticator,
    )
    controller.start()
    config = SmtpConfig(
        host="127.0.0.1",
        port=port,
        sender="referrals@fieldrep.test",
        username=USER,
        password=PASSWORD,
        cafile=str(crt),
        timeout=5.0,
        max_attempts=3,
        base_delay=timedelta(minutes=2),
    )
    try:
        yield box, config
    finally:
        if box.stall is not None:
            box.stall.set()
        controller.stop()


def _queue_status_mail(ctx: Context) -> tuple[str, str]:
    org = make_org(ctx)
    ref = add_referral(ctx, org, name="Bob Buyer")
    move(ctx, ref, "qualified")
    (mail,) = rows(ctx, "notifications", "channel = 'email'")
    return mail["id"], org.referrer_contact


def test_a_stage_change_mails_the_referrer_once_with_a_unique_message_id(
    ctx: Context, smtp: tuple[Mailbox, SmtpConfig]
) -> None:
    box, config = smtp
    nid, _contact = _queue_status_mail(ctx)
    report = send_due(ctx, config)
    assert report.sent == [nid]
    assert report.stopped is None
    (msg,) = box.messages
    assert box.envelopes == [("referrals@fieldrep.test", ["jane@acme.test"])]
    assert msg["Subject"] == "Your referral of Bob Buyer: qualified"
    assert "Dear Jane Doe" in msg.get_payload()
    (row,) = rows(ctx, "notifications", "id = ?", (nid,))
    assert row["status"] == "sent"
    assert row["message_id"] == msg["Message-ID"] == f"<{nid}@fieldrep.test>"
    assert row["attempts"] == 1
    # sent once: another run sends nothing
    assert send_due(ctx, config).sent == []
    assert len(box.messages) == 1


def test_a_refused_login_sends_nothing_and_loses_nothing(
    ctx: Context, smtp: tuple[Mailbox, SmtpConfig]
) -> None:
    box, config = smtp
    nid, _ = _queue_status_mail(ctx)
    wrong = SmtpConfig(**{**config.__dict__, "password": "wrong"})
    report = send_due(ctx, wrong)
    assert report.stopped is not None
    assert "refused the login of 'fieldrep'" in report.stopped
    (row,) = rows(ctx, "notifications", "id = ?", (nid,))
    assert (row["status"], row["attempts"]) == ("queued", 0)
    assert box.messages == []
    assert send_due(ctx, config).sent == [nid]  # fixed: it goes


def test_an_unreachable_server_leaves_the_outbox_waiting(ctx: Context) -> None:
    nid, _ = _queue_status_mail(ctx)
    config = SmtpConfig(host="127.0.0.1", port=_free_port(), sender="r@fieldrep.test")
    report = send_due(ctx, config)
    assert "cannot reach the mail server" in (report.stopped or "")
    assert rows(ctx, "notifications", "id = ?", (nid,))[0]["status"] == "queued"


def test_a_rejected_recipient_is_shown_and_not_retried(
    ctx: Context, smtp: tuple[Mailbox, SmtpConfig]
) -> None:
    box, config = smtp
    box.reject["jane@acme.test"] = "550 5.1.1 no such mailbox"
    nid, _ = _queue_status_mail(ctx)
    report = send_due(ctx, config)
    assert report.failed == [nid]
    (row,) = rows(ctx, "notifications", "id = ?", (nid,))
    assert row["status"] == "failed"
    assert row["last_error"] == "550 5.1.1 no such mailbox"
    box.reject.clear()
    assert send_due(ctx, config).sent == []  # permanent: not sent again by itself


def test_a_busy_mailbox_is_retried_later_with_growing_delays(
    ctx: Context, smtp: tuple[Mailbox, SmtpConfig]
) -> None:
    box, config = smtp
    box.reject["jane@acme.test"] = "451 4.2.0 mailbox busy, try later"
    nid, _ = _queue_status_mail(ctx)
    t0 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    assert send_due(ctx, config, now=t0).retrying == [nid]
    first = rows(ctx, "notifications", "id = ?", (nid,))[0]
    assert first["next_attempt_at"] == "2026-07-01T09:02:00.000Z"
    assert send_due(ctx, config, now=t0 + timedelta(minutes=1)).retrying == []  # not due yet
    assert send_due(ctx, config, now=t0 + timedelta(minutes=2)).retrying == [nid]
    second = rows(ctx, "notifications", "id = ?", (nid,))[0]
    assert second["next_attempt_at"] == "2026-07-01T09:06:00.000Z"  # 4 minutes: growing
    assert send_due(ctx, config, now=t0 + timedelta(minutes=6)).failed == [nid]  # 3rd: give up
    last = rows(ctx, "notifications", "id = ?", (nid,))[0]
    assert last["status"] == "failed"
    assert last["last_error"].startswith("gave up after 3 attempts: 451")
    assert box.messages == []


def test_a_server_that_stops_answering_times_out_and_the_message_waits(
    ctx: Context, smtp: tuple[Mailbox, SmtpConfig]
) -> None:
    box, config = smtp
    box.stall = threading.Event()
    nid, _ = _queue_status_mail(ctx)
    quick = SmtpConfig(**{**config.__dict__, "timeout": 1.0})
    report = send_due(ctx, quick)
    assert report.retrying == [nid]
    assert "connection to the mail server was lost" in (report.stopped or "")
    (row,) = rows(ctx, "notifications", "id = ?", (nid,))
    assert row["status"] == "queued"
    assert row["attempts"] == 1
    assert row["next_attempt_at"] is not None


def test_no_mail_to_a_contact_without_consent(
    ctx: Context, smtp: tuple[Mailbox, SmtpConfig]
) -> None:
    box, config = smtp
    org = make_org(ctx, consent=False)
    ref = add_referral(ctx, org)
    move(ctx, ref, "qualified")
    (row,) = rows(ctx, "notifications", "channel = 'email'")
    assert row["status"] == "skipped"
    assert row["last_error"] == "no consent to referral e-mails"
    assert send_due(ctx, config).sent == []
    assert box.messages == []


def test_an_interrupted_send_is_not_sent_again_blindly(
    ctx: Context, smtp: tuple[Mailbox, SmtpConfig]
) -> None:
    box, config = smtp
    nid, _ = _queue_status_mail(ctx)
    ctx.writer.update("notifications", nid, {"status": "sending"})  # as a crash mid-send leaves it
    assert send_due(ctx, config).sent == []
    (row,) = rows(ctx, "notifications", "id = ?", (nid,))
    assert row["status"] == "failed"
    assert "may have gone out" in row["last_error"]
    assert box.messages == []


def test_only_the_laptop_that_wrote_a_message_sends_it(
    ctx: Context, smtp: tuple[Mailbox, SmtpConfig]
) -> None:
    box, config = smtp
    nid, _ = _queue_status_mail(ctx)
    ctx.writer.update("notifications", nid, {"origin_device": "another-laptop"})
    assert send_due(ctx, config).sent == []
    assert box.messages == []


def test_a_template_with_an_unknown_field_is_refused_at_save_naming_it(ctx: Context) -> None:
    with pytest.raises(templates.TemplateError, match=r"unknown field \$\{referrer_iban\}"):
        templates.save(ctx.conn, "reward_issued", "Hi ${referrer_iban}", "body")
    with pytest.raises(templates.TemplateError, match="write \\$\\$ for a dollar sign"):
        templates.save(ctx.conn, "reward_issued", "You earned $ 5", "body")
    assert ctx.conn.execute("SELECT count(*) FROM message_templates").fetchone()[0] == 0
    templates.save(
        ctx.conn, "referral_status", "${referred_name} is ${stage}", "Hello ${referrer_name}"
    )
    org = make_org(ctx)
    ref = add_referral(ctx, org, name="Eve\r\nBcc: x@evil.test")
    outbox.referrer_status_changed(ctx, ref, "won")
    (row,) = rows(ctx, "notifications", "channel = 'email'")
    assert row["subject"] == "Eve Bcc: x@evil.test is won"  # no header injection
    assert row["body"] == "Hello Jane Doe"
