"""The sync settings dialog against the real server: signing in, a wrong password, signing out
(which keeps every unsent change), and the password never being stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from fieldrep.server import admin
from fieldrep.services.context import Context
from fieldrep.store import local_meta
from fieldrep.sync.protocol import LoginResponse
from fieldrep.ui.dialogs.sync_settings_dialog import SyncSettingsDialog
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.sync_controller import Reason, SyncController, SyncOutcome
from tests.sync.harness import PASSWORD, server_row
from tests.ui.sync_support import Live, SyncApp, sign_in, sync


def _fill(qtbot: QtBot, dialog: SyncSettingsDialog, url: str, user: str, password: str) -> None:
    for edit, text in (
        (dialog.server_edit, url),
        (dialog.user_edit, user),
        (dialog.password_edit, password),
    ):
        edit.clear()
        qtbot.keyClicks(edit, text)


def _open(window: MainWindow) -> SyncSettingsDialog:
    dialog = window.open_sync_settings()
    assert dialog is not None
    assert dialog.isVisible()
    return dialog


def _database_text(ctx: Context) -> str:
    rows = ctx.db.conn.execute("SELECT key, coalesce(value, '') FROM local_meta").fetchall()
    return "\n".join(f"{k}={v}" for k, v in rows)


def test_sign_in_from_the_dialog_then_first_sync(
    qtbot: QtBot,
    ctx: Context,
    live: Live,
    sync_app: SyncApp,
) -> None:
    a1 = live.put_account("North Co")
    controller, window = sync_app.controller, sync_app.window
    dialog = _open(window)
    assert dialog.form.isVisible()
    assert "Not signed in" in dialog.state_label.text()
    _fill(qtbot, dialog, live.url, "rep1", PASSWORD)
    with (
        qtbot.waitSignal(controller.sync_finished, timeout=30_000) as first_sync,
        qtbot.waitSignal(controller.sign_in_finished, timeout=30_000) as signed,
    ):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
        assert dialog.password_edit.text() == "", "the password box is cleared at once"
    assert isinstance(signed.args[0], LoginResponse)
    outcome: SyncOutcome = first_sync.args[0]
    assert outcome.reason is Reason.SIGNED_IN
    assert outcome.ok, outcome.problem

    assert dialog.message.startswith("Signed in as rep1")
    assert not dialog.form.isVisible()
    assert dialog.sign_out_button.isVisible()
    assert f"Signed in to <b>{live.url}</b> as <b>rep1</b>" in dialog.state_label.text()
    assert "Last synced just now" in dialog.state_label.text()
    assert ctx.db.conn.execute("SELECT 1 FROM accounts WHERE id = ?", (a1,)).fetchone()
    # Only the device token is stored, never the password.
    assert local_meta.get(ctx.db.conn, "device_token")
    assert PASSWORD not in _database_text(ctx)
    window.refresh_status()
    assert window.status.sync_text == "Synced just now"


def test_a_wrong_password_is_said_plainly_and_nothing_is_stored(
    qtbot: QtBot,
    ctx: Context,
    live: Live,
    sync_app: SyncApp,
) -> None:
    controller, window = sync_app.controller, sync_app.window
    dialog = _open(window)
    _fill(qtbot, dialog, live.url, "rep1", "not my password")
    with qtbot.waitSignal(controller.sign_in_finished, timeout=30_000) as signed:
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert not isinstance(signed.args[0], LoginResponse)
    assert dialog.message == "Wrong user name or password. Check both and try again."
    assert dialog.form.isVisible()
    assert dialog.password_edit.text() == ""
    assert not local_meta.get(ctx.db.conn, "device_token")
    assert "not my password" not in _database_text(ctx)
    window.refresh_status()
    assert window.status.sync_text == "Sync off: not signed in"


def test_missing_fields_and_a_bad_address_are_caught_before_asking_the_server(
    qtbot: QtBot,
    sync_app: SyncApp,
) -> None:
    controller = sync_app.controller
    dialog = _open(sync_app.window)
    _fill(qtbot, dialog, "", "rep1", "")
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.message == "Please enter your server address and password."
    _fill(qtbot, dialog, "ftp://files.example.com", "rep1", "x")
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.message.startswith("That server address is not valid")
    assert not controller.is_busy


def test_an_unreachable_server_at_sign_in(
    qtbot: QtBot,
    live: Live,
    sync_app: SyncApp,
) -> None:
    controller = sync_app.controller
    dialog = _open(sync_app.window)
    url = live.url
    live.server.stop()
    _fill(qtbot, dialog, url, "rep1", PASSWORD)
    with qtbot.waitSignal(controller.sign_in_finished, timeout=30_000):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.message.startswith("Can't reach the sync server.")


def test_sign_out_keeps_the_outbox_and_signing_in_again_sends_it(
    qtbot: QtBot,
    ctx: Context,
    live: Live,
    sync_app: SyncApp,
) -> None:
    a1 = live.put_account("North Co")
    controller, window = sync_app.controller, sync_app.window
    dialog = _open(window)
    _fill(qtbot, dialog, live.url, "rep1", PASSWORD)
    with qtbot.waitSignal(controller.sync_finished, timeout=30_000):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)

    ctx.writer.update("accounts", a1, {"notes": "written before signing out"})
    new = ctx.writer.insert("accounts", {"name": "New lead", "territory_id": live.org.t1})
    outbox = ctx.db.conn.execute("SELECT seq, fields FROM outbox ORDER BY seq").fetchall()
    assert len(outbox) == 2
    with qtbot.waitSignal(controller.signed_out, timeout=30_000) as out:
        qtbot.mouseClick(dialog.sign_out_button, Qt.MouseButton.LeftButton)
    assert out.args == [2]
    assert dialog.message == (
        "Signed out. 2 changes not yet sent stay on this laptop and go out after you sign in again."
    )
    assert ctx.db.conn.execute("SELECT seq, fields FROM outbox ORDER BY seq").fetchall() == outbox
    assert not local_meta.get(ctx.db.conn, "device_token")
    assert dialog.form.isVisible()
    assert dialog.server_edit.text() == live.url, "the address is remembered"
    assert dialog.user_edit.text() == "rep1"
    window.refresh_status()
    assert window.status.sync_text == "Sync off: not signed in"
    assert window.status.pending_text == "2 changes to sync"
    assert controller.sync_now() is None

    qtbot.keyClicks(dialog.password_edit, PASSWORD)
    with qtbot.waitSignal(controller.sync_finished, timeout=30_000) as again:
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    outcome: SyncOutcome = again.args[0]
    assert outcome.ok, outcome.problem
    assert outcome.result is not None
    assert outcome.result.pushed == 2
    assert ctx.writer.pending_count() == 0
    stored = server_row(live.storage, "accounts", a1)
    assert stored is not None
    assert stored["notes"] == "written before signing out"
    assert server_row(live.storage, "accounts", new) is not None
    assert sync(qtbot, controller).ok


def test_a_revoked_token_signs_the_laptop_out_and_keeps_its_changes(
    qtbot: QtBot,
    ctx: Context,
    live: Live,
    sync_app: SyncApp,
) -> None:
    controller, window = sync_app.controller, sync_app.window
    dialog = _open(window)
    _fill(qtbot, dialog, live.url, "rep1", PASSWORD)
    with qtbot.waitSignal(controller.sync_finished, timeout=30_000):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    ctx.writer.insert("accounts", {"name": "Offline lead", "territory_id": live.org.t1})
    admin.disable_user(live.storage, "rep1")  # the administrator revokes rep1's devices

    with qtbot.waitSignal(controller.signed_out, timeout=30_000) as out:
        outcome = sync(qtbot, controller)
    assert outcome.problem is not None
    assert outcome.problem.headline == "You are signed out of the sync server"
    assert out.args == [1]
    assert ctx.writer.pending_count() == 1
    assert not local_meta.get(ctx.db.conn, "device_token")
    window.refresh_status()
    assert window.status.sync_text == "Sync failed: You are signed out of the sync server"
    assert "sign in again" in window.status.sync.toolTip()
    assert window.status.sync_button.text() == "Sign in…"
    assert dialog.form.isVisible()


def test_signing_in_from_the_demo_says_where_it_went_and_every_page_shows_the_team(
    qtbot: QtBot,
    ctx: Context,
    live: Live,
    make_sync: Callable[..., SyncController],
    window_with_sync: Callable[..., MainWindow],
) -> None:
    from fieldrep.services.demo.build import DemoOptions, build_demo
    from fieldrep.ui.views.accounts_view import AccountsView

    build_demo(ctx, DemoOptions(accounts=60, seed=3))
    live.put_account("North Co")
    controller = make_sync()
    window = window_with_sync(controller)
    window.show_page("accounts")
    view = window.page("accounts")
    assert isinstance(view, AccountsView)
    qtbot.waitUntil(lambda: view.model.matching == 60)
    dialog = _open(window)
    _fill(qtbot, dialog, live.url, "rep1", PASSWORD)
    with (
        qtbot.waitSignal(controller.sync_finished, timeout=30_000) as first_sync,
        qtbot.waitSignal(controller.sign_in_finished, timeout=30_000),
    ):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert first_sync.args[0].ok, first_sync.args[0].problem
    kept = local_meta.get(ctx.db.conn, "demo_kept_at")
    assert kept
    assert dialog.message.startswith("Signed in as rep1")
    assert f"It was copied to {Path(kept).name} beside it" in dialog.message
    # The accounts page follows the change notification: the demo's rows are gone, the team's in.
    qtbot.waitUntil(lambda: view.model.matching == 1, timeout=10_000)
    assert view.count_label.text() == "1 account"
    # Signing in again later is not news: the notice is said once.
    dialog.close()
    with qtbot.waitSignal(controller.signed_out, timeout=30_000):
        controller.sign_out()
    sign_in(qtbot, controller, live, "rep1")
    assert controller.demo_notice is None
