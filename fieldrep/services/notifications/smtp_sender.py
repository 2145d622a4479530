"""Sending the e-mail outbox by SMTP (STARTTLS, then login), each message once.

A message is claimed (``sending``) in its own transaction before it is handed to the server and
marked ``sent`` after; a run interrupted between the two leaves it ``sending``, and the next run
marks it failed for a person to check rather than risk sending it twice. Every message carries a
Message-ID made from its row id, the same on every attempt, so a server that saw it already can
drop the repeat.

Failures: a 4xx answer, a timeout or a dropped connection is temporary: the message waits
``base_delay * 2 ** (attempts - 1)`` and is tried again, up to ``max_attempts``; a 5xx answer (the
recipient refused, say) is permanent and shown on the message. A server that cannot be reached or
refuses the login stops the run with nothing counted against the messages: they wait, as offline.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate

from fieldrep.domain.progress import Progress
from fieldrep.services.context import Context
from fieldrep.store.writer import utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str  # the From address
    username: str = ""
    password: str = field(default="", repr=False)  # never in a log line
    starttls: bool = True
    cafile: str | None = None  # a private CA's certificate (tests, an in-house relay)
    timeout: float = 20.0
    max_attempts: int = 6
    base_delay: timedelta = timedelta(minutes=2)


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped before the end (offline, login refused)

    def summary(self) -> str:
        text = f"{len(self.sent)} sent, {len(self.retrying)} to retry, {len(self.failed)} failed"
        return text + (f"; stopped: {self.stopped}" if self.stopped else "")


class _Stop(Exception):
    pass


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_id(notification_id: str, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "fieldrep.invalid"
    return f"<{notification_id}@{domain}>"


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    try:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        raise _Stop(f"cannot reach the mail server {config.host}:{config.port} ({exc})") from exc
    try:
        smtp.ehlo()
        if config.starttls:
            context = ssl.create_default_context(cafile=config.cafile)
            smtp.starttls(context=context)
            smtp.ehlo()
        if config.username:
            smtp.login(config.username, config.password)
    except smtplib.SMTPAuthenticationError as exc:
        smtp.close()
        said = exc.smtp_error
        said = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
        raise _Stop(
            f"the mail server refused the login of {config.username!r} ({exc.smtp_code}"
            f" {said}); check the user name and password"
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        smtp.close()
        raise _Stop(f"the mail server does not offer STARTTLS or login ({exc})") from exc
    except (OSError, smtplib.SMTPException) as exc:
        smtp.close()
        raise _Stop(f"the mail server {config.host}:{config.port} did not answer ({exc})") from exc
    return smtp


def _fail_interrupted(ctx: Context) -> None:
    with ctx.writer.transaction() as conn:
        for (nid,) in conn.execute(
            "SELECT id FROM notifications WHERE channel = 'email' AND status = 'sending'"
            " AND origin_device = ?",
            (ctx.writer.device_id,),
        ).fetchall():
            ctx.writer.update(
                "notifications",
                nid,
                {
                    "status": "failed",
                    "last_error": "interrupted while sending: it may have gone out; check before"
                    " sending it again",
                },
            )


def send_due(
    ctx: Context,
    config: SmtpConfig,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> SendReport:
    """Send the e-mails of this laptop's outbox that are due. ``progress(done, total, text)`` is called
    before each message and may raise (a cancel) to stop: that message and the rest stay queued."""
    now = now or datetime.now(UTC)
    report = SendReport()
    _fail_interrupted(ctx)
    due = ctx.conn.execute(
        "SELECT id, to_address, subject, body, attempts, message_id FROM notifications"
        " WHERE channel = 'email' AND status = 'queued' AND origin_device = ?"
        " AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY created_at, id",
        (ctx.writer.device_id, _iso(now)),
    ).fetchall()
    if not due:
        return report
    try:
        smtp = _connect(config)
    except _Stop as exc:
        report.stopped = str(exc)
        log.warning("%s", exc)
        return report
    try:
        for done, (nid, to, subject, body, attempts, mid) in enumerate(due):
            if progress is not None:
                progress(done, len(due), f"Sending e-mail {done + 1:,} of {len(due):,}")
            mid = mid or message_id(nid, config.sender)
            ctx.writer.update(
                "notifications",
                nid,
                {"status": "sending", "attempts": attempts + 1, "message_id": mid},
            )
            msg = EmailMessage()
            msg["From"] = config.sender
            msg["To"] = to
            msg["Subject"] = subject
            msg["Message-ID"] = mid
            msg["Date"] = formatdate(localtime=False)
            msg.set_content(body)
            try:
                refused = smtp.send_message(msg)
                if refused:  # some of several recipients; we send to one
                    raise smtplib.SMTPRecipientsRefused(refused)
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                _failed(ctx, config, nid, attempts + 1, code, text, report, now)
            except smtplib.SMTPResponseException as exc:
                _failed(ctx, config, nid, attempts + 1, exc.smtp_code, exc.smtp_error, report, now)
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                # a timeout or a dropped line: this message waits, the run stops
                _retry(ctx, config, nid, attempts + 1, str(exc) or type(exc).__name__, report, now)
                report.stopped = f"the connection to the mail server was lost ({exc or 'timeout'})"
                break
            else:
                ctx.writer.update(
                    "notifications",
                    nid,
                    {"status": "sent", "sent_at": utc_now(), "last_error": None},
                )
                report.sent.append(nid)
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return report


def _failed(
    ctx: Context,
    config: SmtpConfig,
    nid: str,
    attempts: int,
    code: int,
    text: bytes | str,
    report: SendReport,
    now: datetime,
) -> None:
    said = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    reason = f"{code} {said}"
    if 400 <= code < 500:
        _retry(ctx, config, nid, attempts, reason, report, now)
        return
    ctx.writer.update("notifications", nid, {"status": "failed", "last_error": reason})
    report.failed.append(nid)


def _retry(
    ctx: Context,
    config: SmtpConfig,
    nid: str,
    attempts: int,
    reason: str,
    report: SendReport,
    now: datetime,
) -> None:
    if attempts >= config.max_attempts:
        ctx.writer.update(
            "notifications",
            nid,
            {"status": "failed", "last_error": f"gave up after {attempts} attempts: {reason}"},
        )
        report.failed.append(nid)
        return
    wait = config.base_delay * (2 ** (attempts - 1))
    ctx.writer.update(
        "notifications",
        nid,
        {"status": "queued", "next_attempt_at": _iso(now + wait), "last_error": reason},
    )
    report.retrying.append(nid)
