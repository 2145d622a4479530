"""Runs sync in the background for the desktop app: on a timer, when the server is reachable again,
and on "Sync now"; signs in and out. Owns no widget: the status bar, the settings dialog and the
menus listen to its signals and call its methods.

Every network operation goes through the :class:`~fieldrep.ui.tasks.TaskRunner` (network lane), so
its progress and its Cancel button appear in the status bar like any other task. One operation at a
time: a timer tick or a reconnect during a sync is simply skipped; a "Sync now" during one is too
(the running sync already does what was asked).
"""

from __future__ import annotations

import enum
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from fieldrep.services.context import Context
from fieldrep.services.sync import session as sync_session
from fieldrep.services.sync.session import Problem, SyncLine, SyncStatus, TransportFactory
from fieldrep.ui.connectivity import ConnectivityMonitor
from fieldrep.ui.tasks import Cancelled, Progress, Task, TaskKind, TaskRunner

# The sync client and its transport (httpx, pydantic) are imported where a sync or a sign-in
# actually happens: the window is built, and painted, without them.
if TYPE_CHECKING:
    from fieldrep.sync.client import SyncResult
    from fieldrep.sync.protocol import LoginResponse

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_MS = 5 * 60 * 1000
SYNC_LABEL = "Sync"


class Reason(enum.Enum):
    MANUAL = "manual"
    TIMER = "timer"
    RECONNECTED = "reconnected"
    SIGNED_IN = "signed in"


@dataclass(frozen=True)
class SyncOutcome:
    reason: Reason
    result: SyncResult | None = None
    problem: Problem | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.result is not None


class SyncController(QObject):
    """Background sync for one open database."""

    state_changed = Signal()  # anything the status bar shows may have changed
    sync_started = Signal(object)  # Task
    sync_finished = Signal(object)  # SyncOutcome
    sign_in_finished = Signal(object)  # LoginResponse, or the Problem that stopped it
    signed_out = Signal(int)  # changes kept on the laptop

    def __init__(
        self,
        context: Context,
        runner: TaskRunner,
        monitor: ConnectivityMonitor | None = None,
        parent: QObject | None = None,
        *,
        interval_ms: int = DEFAULT_INTERVAL_MS,
        transport_factory: TransportFactory = sync_session.default_transport,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = runner
        self.monitor = monitor
        self._transport_factory = transport_factory
        self._task: Task | None = None
        self._task_kind = ""  # "sync", "sign in", "sign out"
        self._sign_out_after: bool = False
        self.problem: Problem | None = None
        # Set by a sign-in that set the demo this database held aside: what to tell the user.
        self.demo_notice: str | None = None
        self.last_outcome: SyncOutcome | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._on_timer_timeout)
        if monitor is not None:
            monitor.online_changed.connect(self._on_monitor_online_changed)

    # -- state --------------------------------------------------------------------------------

    def status(self) -> SyncStatus:
        return sync_session.read_status(self.context.conn)

    @property
    def is_syncing(self) -> bool:
        return self._task is not None and self._task_kind == "sync"

    @property
    def is_busy(self) -> bool:
        return self._task is not None

    @property
    def task(self) -> Task | None:
        return self._task

    @property
    def online(self) -> bool:
        return True if self.monitor is None else self.monitor.online

    def line(self, status: SyncStatus | None = None) -> SyncLine:
        """The status bar's sync text right now (from ``status`` when the caller just read it)."""
        line = sync_session.describe_status(
            status or self.status(),
            syncing=self.is_syncing,
            problem=self.problem,
            online=self.online,
        )
        outcome = self.last_outcome
        if outcome is not None and outcome.result is not None and not self.is_syncing:
            done = sync_session.describe_result(outcome.result)
            line = SyncLine(line.text, f"{line.tooltip}\nLast sync: {done}.", line.tone)
        elif outcome is not None and outcome.cancelled and line.tone == "ok":
            line = SyncLine(
                "Sync cancelled",
                f"{line.tooltip}\nYou stopped the last sync; everything received so far is kept.",
                "off",
            )
        return line

    def start(self) -> None:
        """Begin the timer and point the connectivity probe at the server we are signed in to."""
        if self.monitor is not None:
            self.monitor.set_server(sync_session.signed_in_server(self.context.conn))
        self.timer.start()
        self.state_changed.emit()

    def stop(self) -> None:
        self.timer.stop()
        if self._task is not None:
            self._task.cancel()

    # -- sync ---------------------------------------------------------------------------------

    def sync_now(self, reason: Reason = Reason.MANUAL) -> Task | None:
        """Start a sync unless one (or a sign-in) is running or nobody is signed in; the task."""
        if self._task is not None:
            return None
        if not self.status().signed_in:
            if reason is Reason.MANUAL:
                from fieldrep.sync.transport import SyncError

                self.problem = sync_session.problem_for(
                    SyncError("this laptop is not signed in to a sync server")
                )
                self.state_changed.emit()
            return None
        factory = self._transport_factory

        def sync(db_path: Path, progress: Progress) -> SyncResult:
            from fieldrep.sync.client import Cancelled as SyncCancelled

            def relay(done: int, total: int | None, text: str) -> None:
                if not progress.cancelled:  # the engine notices the cancel itself, cleanly
                    progress.report(done, total, text)

            try:
                return sync_session.run_sync(db_path, relay, progress.cancel_event, factory)
            except SyncCancelled as exc:
                raise Cancelled from exc

        task = self.runner.run(
            sync,
            kind=TaskKind.NETWORK,
            label=SYNC_LABEL,
            on_success=lambda result: self._on_sync_done(reason, result=result),
            on_failure=lambda exc: self._on_sync_done(reason, error=exc),
            on_cancelled=lambda: self._on_sync_done(reason, cancelled=True),
        )
        self._begin(task, "sync")
        self.sync_started.emit(task)
        return task

    def cancel(self) -> None:
        """Stop the running sync at its next step; what arrived so far is kept."""
        if self.is_syncing and self._task is not None:
            self._task.cancel()

    def _begin(self, task: Task, kind: str) -> None:
        self._task, self._task_kind = task, kind
        task.finished.connect(self._on_task_finished)
        self.state_changed.emit()

    def _on_sync_done(
        self,
        reason: Reason,
        *,
        result: SyncResult | None = None,
        error: BaseException | None = None,
        cancelled: bool = False,
    ) -> None:
        from fieldrep.sync.transport import AuthRequired, NetworkError

        problem = None if error is None else sync_session.problem_for(error)
        if error is not None:
            log.info("sync (%s) failed: %s", reason.value, error)
        if self.monitor is not None:
            if result is not None:
                self.monitor.report(True)
            elif isinstance(error, NetworkError) and problem is not None:
                self.monitor.report(False)
        if not cancelled:
            self.problem = problem
        if isinstance(error, AuthRequired):
            # The token was revoked (or the user disabled): this laptop is signed out, so show
            # the sign-in form rather than retrying with a dead token. The outbox is kept.
            self._sign_out_after = True
        outcome = SyncOutcome(reason, result=result, problem=problem, cancelled=cancelled)
        self.last_outcome = outcome
        self.sync_finished.emit(outcome)

    def _on_task_finished(self) -> None:
        self._task, self._task_kind = None, ""
        self.state_changed.emit()
        if self._sign_out_after:
            self._sign_out_after = False
            self.sign_out()

    def _on_timer_timeout(self) -> None:
        if self._closed():
            return
        if self.online:
            self.sync_now(Reason.TIMER)

    def _closed(self) -> bool:
        """True (and the timer stopped) once the database was closed under us: a controller
        outliving its database must go quiet, not raise from a timer."""
        try:
            self.context.conn.execute("SELECT 1")
        except sqlite3.ProgrammingError:
            self.stop()
            return True
        return False

    def _on_monitor_online_changed(self, online: bool) -> None:
        if self._closed():
            return
        self.state_changed.emit()
        if online:
            # After every other listener (the status bar) has seen the change.
            QTimer.singleShot(0, self, self._on_reconnected)

    def _on_reconnected(self) -> None:
        # The database may have been closed (another one opened) since the network came back.
        if not self._closed():
            self.sync_now(Reason.RECONNECTED)

    # -- signing in and out ---------------------------------------------------------------------

    def sign_in(self, url: str, username: str, password: str) -> Task | None:
        """Sign in in the background; :attr:`sign_in_finished` says how it went. The password is
        only handed to the request, never kept."""
        if self._task is not None:
            return None

        def sign_in(db_path: Path, _progress: Progress) -> tuple[LoginResponse, str | None]:
            before = sync_session.demo_notice(db_path)
            response = sync_session.sign_in_to(db_path, url, username, password)
            after = sync_session.demo_notice(db_path)
            # Only this sign-in's setting aside of the demo is news (not one from a past sign-in).
            return response, after if after != before else None

        task = self.runner.run(
            sign_in,
            kind=TaskKind.NETWORK,
            label="Signing in",
            on_success=self._on_sign_in_succeeded,
            on_failure=self._on_sign_in_failed,
        )
        self._begin(task, "sign in")
        return task

    def _on_sign_in_succeeded(self, result: tuple[LoginResponse, str | None]) -> None:
        response, self.demo_notice = result
        self.problem = None
        status = self.status()
        if self.monitor is not None:
            self.monitor.set_server(status.server_url)
            self.monitor.report(True)
        self.sign_in_finished.emit(response)
        # The first sync starts once this task has finished (one operation at a time).
        QTimer.singleShot(0, lambda: self.sync_now(Reason.SIGNED_IN))

    def _on_sign_in_failed(self, error: BaseException) -> None:
        self.sign_in_finished.emit(sync_session.problem_for(error, signing_in=True))

    def sign_out(self) -> Task | None:
        """Forget this laptop's token; every unsent change stays in the outbox."""
        if self._task is not None:
            if self.is_syncing:
                self._sign_out_after = True
                self._task.cancel()
            return None
        task = self.runner.run(
            _sign_out_op,
            kind=TaskKind.NETWORK,
            label="Signing out",
            on_success=self._on_sign_out_succeeded,
        )
        self._begin(task, "sign out")
        return task

    def _on_sign_out_succeeded(self, kept: Any) -> None:
        if self.problem is not None and not self.problem.sign_in_needed:
            self.problem = None
        if self.monitor is not None:
            self.monitor.set_server(None)
        self.signed_out.emit(int(kept))


def _sign_out_op(db_path: Path, _progress: Progress) -> int:
    return sync_session.sign_out_of(db_path)
