"""The laptop's mail server settings (host, port, STARTTLS, login, From address), kept as the sync
settings keep theirs: in this database's ``local_meta``, which is never synced (the sync's device
token lives there too). The password is stored there and read back only to log in; nothing here
logs it, and :class:`SmtpSettings` and :class:`~.smtp_sender.SmtpConfig` leave it out of their
``repr``. A form's blank password keeps the saved one.

Checked as saved, each mistake naming its field (:class:`SettingsError`); :func:`send_outbox` is
what the app's background sender runs (on a context of the worker's own, one progress callback,
one cancel).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass, field

from fieldrep.domain.progress import Progress
from fieldrep.services.context import Context
from fieldrep.services.notifications.smtp_sender import SendReport, SmtpConfig, send_due
from fieldrep.store import settings as stored

log = logging.getLogger(__name__)

NOT_CONFIGURED = "no mail server is set up (Rewards › Mail settings)"


class SettingsError(ValueError):
    """A setting that cannot work, with the form field it belongs to."""

    def __init__(self, message: str, field_name: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""
    port: int = 587
    starttls: bool = True
    username: str = ""
    sender: str = ""
    cafile: str = ""
    password: str = field(default="", repr=False)

    @property
    def configured(self) -> bool:
        return bool(self.host and self.sender)

    @property
    def has_password(self) -> bool:
        return bool(self.password)

    def config(self) -> SmtpConfig:
        return SmtpConfig(
            host=self.host,
            port=self.port,
            sender=self.sender,
            username=self.username,
            password=self.password,
            starttls=self.starttls,
            cafile=self.cafile or None,
        )


def load(conn: sqlite3.Connection) -> SmtpSettings:
    def get(setting: stored.Setting[str | None]) -> str:
        return stored.get(conn, setting) or ""

    return SmtpSettings(
        host=get(stored.SMTP_HOST),
        port=stored.get(conn, stored.SMTP_PORT),
        starttls=stored.get(conn, stored.SMTP_STARTTLS),
        username=get(stored.SMTP_USERNAME),
        sender=get(stored.SMTP_SENDER),
        cafile=get(stored.SMTP_CAFILE),
        password=get(stored.SMTP_PASSWORD),
    )


def check(settings: SmtpSettings) -> None:
    """Refuse settings that cannot work, naming the field."""
    host = settings.host.strip()
    if not host:
        raise SettingsError("enter the mail server's name (such as smtp.example.com)", "host")
    if any(c.isspace() for c in host) or "/" in host:
        raise SettingsError(f"{host!r} is not a server name", "host")
    if not 1 <= settings.port <= 65_535:
        raise SettingsError("the port is a number from 1 to 65535 (usually 587)", "port")
    sender = settings.sender.strip()
    if "@" not in sender or sender.startswith("@") or sender.endswith("@") or " " in sender:
        raise SettingsError("enter the address the e-mails come from (name@example.com)", "sender")
    if settings.password and not settings.username.strip():
        raise SettingsError("a password needs the user name it belongs to", "username")
    if settings.username.strip() and not settings.starttls:
        raise SettingsError(
            "logging in without STARTTLS would send the password in clear: turn STARTTLS on",
            "starttls",
        )
    if settings.cafile and not os.path.isfile(settings.cafile):
        raise SettingsError(f"there is no certificate file {settings.cafile}", "cafile")


def save(ctx: Context, settings: SmtpSettings, *, keep_password: bool = True) -> SmtpSettings:
    """Check and store ``settings``; with ``keep_password`` a blank password keeps the saved one.
    Returns what is stored."""
    with ctx.writer.transaction() as conn:
        if keep_password and not settings.password:
            settings = SmtpSettings(
                host=settings.host,
                port=settings.port,
                starttls=settings.starttls,
                username=settings.username,
                sender=settings.sender,
                cafile=settings.cafile,
                password=load(conn).password if settings.username.strip() else "",
            )
        check(settings)
        stored.put(conn, stored.SMTP_HOST, settings.host.strip() or None)
        stored.put(conn, stored.SMTP_PORT, settings.port)
        stored.put(conn, stored.SMTP_STARTTLS, settings.starttls)
        stored.put(conn, stored.SMTP_USERNAME, settings.username.strip() or None)
        stored.put(conn, stored.SMTP_SENDER, settings.sender.strip() or None)
        stored.put(conn, stored.SMTP_CAFILE, settings.cafile.strip() or None)
        stored.put(conn, stored.SMTP_PASSWORD, settings.password or None)
    log.info("mail server settings saved (%s:%d)", settings.host, settings.port)
    return load(ctx.conn)


def send_outbox(ctx: Context, progress: Progress | None = None) -> SendReport:
    """Send this laptop's due e-mails with the saved settings (the app's background sender runs
    it off the GUI thread, on the worker's context). ``progress(done, total, text)`` hears before
    each message and may raise to stop: the messages not yet handed over wait, as queued."""
    settings = load(ctx.conn)
    if not settings.configured:
        return SendReport(stopped=NOT_CONFIGURED)
    return send_due(ctx, settings.config(), progress=progress)


def failed_count(conn: sqlite3.Connection, device_id: str) -> int:
    """E-mails of this laptop that could not be sent and wait for a person."""
    return int(
        conn.execute(
            "SELECT count(*) FROM notifications WHERE channel = 'email' AND status = 'failed'"
            " AND origin_device = ?",
            (device_id,),
        ).fetchone()[0]
    )
