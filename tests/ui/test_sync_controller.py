"""Background sync from the desktop app against the real server on loopback over real HTTP: Sync
now (with progress), cancel, the timer, the server coming back, and errors in plain words."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.services.sync.session import default_transport
from fieldrep.sync.transport import HttpTransport
from fieldrep.ui.connectivity import ConnectivityMonitor
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.sync_controller import Reason, SyncController, SyncOutcome
from fieldrep.ui.tasks import TaskRunner
from tests.sync.harness import server_row
from tests.ui.sync_support import Live, SyncApp, sign_in, sync


def test_sync_now_sends_local_edits_and_brings_server_changes_with_progress(
    qtbot: QtBot,
    ctx: Context,
    live: Live,
    sync_app: SyncApp,
) -> None:
    a1 = live.put_account("North Co")
    controller, window = sync_app.controller, sync_app.window
    assert window.status.sync_text == "Sync off: not signed in"
    assert window.status.sync_button.text() == "Sign in…"
    sign_in(qtbot, controller, live)
    assert ctx.db.conn.execute("SELECT name FROM accounts WHERE id = ?", (a1,)).fetchone() == (
        "North Co",
    )
    assert window.status.sync_text == "Synced just now"
    assert window.status.sync_button.text() == "Sync now"

    # A local edit waits in the outbox and the status bar says so.
    ctx.writer.update("accounts", a1, {"phone": "555-0100"})
    window.refresh_status()
    assert window.status.pending_text == "1 change to sync"
    # Meanwhile a colleague changes another account on the server.
    boss = live.laptop("boss", "manager")
    a2 = boss.writer.insert("accounts", {"name": "Fresh North", "territory_id": live.org.t1})
    boss.sync()

    progress: list[str] = []
    shown: list[str] = []
    controller.sync_started.connect(
        lambda task: task.progressed.connect(lambda _d, _t, text: progress.append(text))
    )
    controller.sync_started.connect(
        lambda _task: shown.append(window.status.task_progress.label.text())
    )
    with qtbot.waitSignal(controller.sync_finished, timeout=30_000) as blocker:
        qtbot.mouseClick(window.status.sync_button, Qt.MouseButton.LeftButton)
        assert window.status.sync_text == "Syncing…"
        assert not window.status.sync_button.isEnabled()
    outcome: SyncOutcome = blocker.args[0]
    assert outcome.ok, outcome.problem
    assert outcome.reason is Reason.MANUAL
    assert outcome.result is not None
    assert outcome.result.pushed == 1
    assert shown == ["Sync"], "the status bar followed the sync task"
    assert progress, "progress was reported"
    assert any(t.startswith(("Sending changes", "Receiving changes", "Checking")) for t in progress)

    stored = server_row(live.storage, "accounts", a1)
    assert stored is not None
    assert stored["phone"] == "555-0100"
    assert ctx.db.conn.execute("SELECT name FROM accounts WHERE id = ?", (a2,)).fetchone() == (
        "Fresh North",
    )
    assert window.status.pending_text == "All changes synced"
    assert window.status.sync_text == "Synced just now"
    assert "Last sync: Sent 1 change" in window.status.sync.toolTip()
    boss.close()


def test_cancel_stops_the_sync_and_keeps_every_change(
    qtbot: QtBot,
    ctx: Context,
    live: Live,
    sync_app: SyncApp,
) -> None:
    controller, window = sync_app.controller, sync_app.window
    sign_in(qtbot, controller, live)
    ctx.writer.insert_many(
        "accounts",
        [{"name": f"Account {i}", "territory_id": live.org.t1} for i in range(3000)],
    )
    with qtbot.waitSignal(controller.sync_finished, timeout=60_000) as blocker:
        task = controller.sync_now()
        assert task is not None
        assert window.status.task_progress.task is task
        qtbot.mouseClick(window.status.task_progress.cancel_button, Qt.MouseButton.LeftButton)
    outcome: SyncOutcome = blocker.args[0]
    assert outcome.cancelled
    assert outcome.problem is None
    assert ctx.writer.pending_count() > 0, "what was not sent is still waiting"
    window.refresh_status()
    assert window.status.sync_text == "Sync cancelled"
    assert window.status.sync_button.isEnabled()

    again = sync(qtbot, controller)
    assert again.ok, again.problem
    assert ctx.writer.pending_count() == 0
    with live.storage.read() as tx:
        count = tx.one("SELECT count(*) FROM accounts WHERE name LIKE 'Account %'")
    assert count is not None
    assert count[0] == 3000


def test_the_timer_syncs_in_the_background(
    qtbot: QtBot,
    ctx: Context,
    runner: TaskRunner,
    make_sync: Callable[..., SyncController],
    live: Live,
) -> None:
    controller = make_sync()
    sign_in(qtbot, controller, live)
    a1 = live.put_account("Timer Co")
    controller.timer.setInterval(50)
    with qtbot.waitSignal(controller.sync_finished, timeout=30_000) as blocker:
        controller.timer.start()
    outcome: SyncOutcome = blocker.args[0]
    controller.timer.stop()
    assert outcome.reason is Reason.TIMER
    assert outcome.ok, outcome.problem
    assert ctx.db.conn.execute("SELECT 1 FROM accounts WHERE id = ?", (a1,)).fetchone()


def test_the_server_coming_back_triggers_a_sync(
    qtbot: QtBot,
    ctx: Context,
    runner: TaskRunner,
    make_sync: Callable[..., SyncController],
    live: Live,
) -> None:
    monitor = ConnectivityMonitor(probe_interval_ms=50)
    controller = make_sync(monitor)
    controller.timer.stop()  # only connectivity may start a sync in this test
    sign_in(qtbot, controller, live)
    assert monitor.server == ("127.0.0.1", live.server.port)
    qtbot.waitUntil(lambda: monitor.online)

    live.server.stop()  # the port is closed now: the probe fails
    with qtbot.waitSignal(monitor.online_changed, timeout=30_000) as went:
        pass
    assert went.args == [False]
    line = controller.line()
    assert (line.text, line.tone) == ("Last synced just now", "off")
    assert "cannot be reached right now" in line.tooltip
    a1 = live.put_account("Back Online Co")
    row_id = ctx.writer.insert("accounts", {"name": "Offline work", "territory_id": live.org.t1})

    with qtbot.waitSignal(controller.sync_finished, timeout=30_000) as blocker:
        live.server.start()  # same port, like a restarted server
    outcome: SyncOutcome = blocker.args[0]
    monitor.stop()
    assert outcome.reason is Reason.RECONNECTED
    assert outcome.ok, outcome.problem
    assert monitor.online
    assert ctx.db.conn.execute("SELECT 1 FROM accounts WHERE id = ?", (a1,)).fetchone()
    assert server_row(live.storage, "accounts", row_id) is not None


def test_server_down_is_said_in_plain_words(
    qtbot: QtBot,
    ctx: Context,
    live: Live,
    sync_app: SyncApp,
) -> None:
    controller, window = sync_app.controller, sync_app.window
    sign_in(qtbot, controller, live)
    ctx.writer.insert("accounts", {"name": "Written offline"})
    live.server.stop()
    outcome = sync(qtbot, controller)
    assert outcome.problem is not None
    assert outcome.problem.headline == "Can't reach the sync server"
    window.refresh_status()
    assert window.status.sync_text == "Sync failed: Can't reach the sync server"
    assert window.status.sync_tone == "problem"
    assert "Your changes are safe on this laptop" in window.status.sync.toolTip()
    assert window.status.pending_text == "1 change to sync"
    assert "Traceback" not in window.status.sync.toolTip()
    assert "Error" not in window.status.sync_text


def test_a_too_old_client_is_asked_to_update(
    qtbot: QtBot,
    ctx: Context,
    runner: TaskRunner,
    make_sync: Callable[..., SyncController],
    live: Live,
    window_with_sync: Callable[[SyncController], MainWindow],
) -> None:
    def old_app(context: Context) -> HttpTransport:
        transport = default_transport(context)
        transport._client.headers["FieldRep-Schema"] = "0"  # what an old release sends
        return transport

    controller = make_sync(transport_factory=old_app)
    window = window_with_sync(controller)
    sign_in_outcomes: list[object] = []
    controller.sign_in_finished.connect(sign_in_outcomes.append)
    with qtbot.waitSignal(controller.sync_finished, timeout=30_000) as blocker:
        controller.sign_in(live.url, "rep1", "correct horse battery")
    outcome: SyncOutcome = blocker.args[0]
    assert outcome.problem is not None
    assert outcome.problem.headline == "This version of FieldRep is too old for the server"
    window.refresh_status()
    assert window.status.sync_text == (
        "Sync failed: This version of FieldRep is too old for the server"
    )
    assert "Please update FieldRep" in window.status.sync.toolTip()


def test_sync_now_without_signing_in_says_how_to_sign_in(
    qtbot: QtBot,
    sync_app: SyncApp,
) -> None:
    controller, window = sync_app.controller, sync_app.window
    assert controller.sync_now() is None
    assert controller.problem is not None
    assert controller.problem.headline == "Not signed in to a sync server"
    # The status bar's button offers to sign in instead, and opens the settings.
    qtbot.mouseClick(window.status.sync_button, Qt.MouseButton.LeftButton)
    dialog = window._sync_dialog
    assert dialog is not None
    assert dialog.isVisible()


def test_a_controller_outliving_its_database_goes_quiet(qtbot: QtBot, tmp_path: Path) -> None:
    other = Context.open(tmp_path / "closed.db")
    other_runner = TaskRunner(other.path)
    controller = SyncController(other, other_runner, interval_ms=10)
    controller.start()
    assert controller.timer.isActive()
    other.close()
    qtbot.waitUntil(lambda: not controller.timer.isActive())
    other_runner.shutdown()


def test_a_reconnect_sync_queued_before_the_database_closed_goes_quiet(
    qtbot: QtBot, tmp_path: Path
) -> None:
    # Opening another database closes this one between the network coming back and the sync
    # that was queued for it: the queued sync must not touch the closed database.
    other = Context.open(tmp_path / "swapped.db")
    other_runner = TaskRunner(other.path)
    monitor = ConnectivityMonitor()
    controller = SyncController(other, other_runner, monitor)
    monitor.online_changed.emit(True)  # queues the reconnect sync for the next turn
    controller.stop()
    other.close()
    qtbot.wait(50)  # the queued call runs here; an exception would fail the test
    assert controller.task is None
    other_runner.shutdown()
