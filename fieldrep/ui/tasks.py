"""Background work for the desktop app: run an operation off the GUI thread and get its result back.

In the shape of Anki's ``aqt/taskman.py`` + ``QueryOp``: :class:`TaskRunner` takes a plain function,
runs it on a worker thread and hands its result (or its exception) back to the GUI thread through the
signals of the :class:`Task` it returned. Operations never touch a widget and never share the GUI's
SQLite connection: each receives the database *path* and opens its own connection (one per thread).

Three kinds of work, three lanes:

- ``TaskKind.WRITE``: database writes, serialised on one worker so two writes never race for the
  SQLite write lock or interleave their outbox sequences;
- ``TaskKind.READ``: long queries (reports, exports), in a small pool;
- ``TaskKind.NETWORK``: sync and geocoding requests, in their own pool so a slow server never delays
  a local query.

An operation reports progress and notices cancellation through the :class:`Progress` it receives::

    def rebuild(db_path: Path, progress: Progress) -> int:
        ctx = Context.open(db_path)
        try:
            for i, chunk in enumerate(chunks):
                progress.report(i, len(chunks), "Rebuilding...")   # raises Cancelled once cancelled
                ...
        finally:
            ctx.close()

    task = runner.run(rebuild, kind=TaskKind.WRITE, label="Rebuild", on_success=show_count)

A user action that writes has one shape, :meth:`TaskRunner.write` (Anki's ``CollectionOp``): the
action is a function of a :class:`~fieldrep.services.context.Context` opened on the write lane,
and the tables it changed are announced when it commits (the store's change hub, carried by the
database path), so every page showing them refreshes itself; the action never calls the pages::

    runner.write(lambda ctx: lifecycle.approve(ctx, ids), label="Approving", on_success=say_done)

See :meth:`TaskRunner.write` for errors, progress and dialogs that wait for their write.

Kept whole: the runner, its tasks, their progress and the thread-level tuning they need (switch
interval, the garbage-collection freeze after bulk jobs) are one mechanism.
"""

from __future__ import annotations

import enum
import gc
import itertools
import logging
import sys
import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from fieldrep.domain.errors import (
    Cancelled,  # raised inside an operation once cancelled
    FieldRepError,
)
from fieldrep.ui.change_relay import ChangeRelay

if TYPE_CHECKING:
    from fieldrep.services.context import Context

log = logging.getLogger(__name__)

Operation = Callable[[Path, "Progress"], Any]

# How long an idle pool thread lingers before exiting; shutdown() joins them all anyway.
_THREAD_EXPIRY_MS = 10_000
# Python's GIL switch interval while workers run beside the GUI thread. Every Python callback Qt
# makes on the GUI thread (a paint, a size hint, a model's data) must take the GIL back from a
# worker running Python, and waits up to this long each time: at the default 5 ms, forty such
# calls in one repaint made a 0.2 s pause. 1 ms costs the workers a little throughput.
GUI_SWITCH_INTERVAL_S = 0.001
# A bulk job (an import, an export) runs with automatic garbage collection paused
# (fieldrep.services.gc_pause), so what it leaves alive (the caches it filled, its result, the
# modules it imported) is all in the youngest generation when the collector resumes, and the next
# collection, on whichever thread, walks every one of those objects in one call that holds the
# GIL: 60-160 ms after a 20,000-row import or an export, the window's longest pauses. When a
# young collection starts with more than this many objects, they are moved out of the collector's
# generations instead (gc.freeze, constant time; the collection then finds nothing to walk). They
# are still freed by reference counting; only a reference cycle among them is kept until exit,
# the price of never walking them again. (A young generation never holds more than ~700 objects
# while the collector runs: only a pause makes it this big.)
LEFTOVER_OBJECTS = 20_000


def _freeze_leftovers(phase: str, info: dict[str, int]) -> None:
    """A ``gc.callbacks`` entry: see :data:`LEFTOVER_OBJECTS`."""
    if phase == "start" and info["generation"] == 0 and gc.get_count()[0] > LEFTOVER_OBJECTS:
        gc.freeze()


def set_aside_bulk_leftovers() -> None:
    """Install :func:`_freeze_leftovers` (once per process)."""
    if _freeze_leftovers not in gc.callbacks:
        gc.callbacks.append(_freeze_leftovers)


class TaskKind(enum.Enum):
    READ = "read"
    WRITE = "write"
    NETWORK = "network"


class TaskState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def done(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED)


class Progress:
    """What an operation gets to report progress and to notice cancellation; safe from any thread."""

    def __init__(self, post: Callable[[int, int | None, str], None]) -> None:
        self._post = post
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_event(self) -> threading.Event:
        """The event set on cancel, for code that takes a ``threading.Event`` (the sync engine)."""
        return self._cancel

    def check(self) -> None:
        """Raise :class:`Cancelled` if the user asked to stop; call it between units of work."""
        if self._cancel.is_set():
            raise Cancelled

    def sleep(self, seconds: float) -> None:
        """Wait (a retry back-off, a rate limit) but wake at once and raise :class:`Cancelled` on cancel."""
        if self._cancel.wait(seconds):
            raise Cancelled

    def report(self, done: int, total: int | None = None, text: str = "") -> None:
        """Tell the GUI how far along we are (``total=None``: unknown), then :meth:`check`."""
        self.check()
        self._post(done, total, text)


class Task(QObject):
    """One submitted operation. Its signals are emitted on the GUI thread, ``finished`` always last."""

    progressed = Signal(int, int, str)  # done, total (-1: unknown), text
    succeeded = Signal(object)  # the operation's return value
    failed = Signal(object)  # the exception it raised
    cancelled = Signal()
    finished = Signal()

    def __init__(self, task_id: int, kind: TaskKind, label: str) -> None:
        # No Qt parent: the task lives as long as Python holds it (the runner until it ends, then
        # whoever kept the handle), so a long session does not pile up finished tasks.
        super().__init__()
        self.task_id = task_id
        self.kind = kind
        self.label = label
        self.quiet = False  # housekeeping the user did not ask for: progress lines skip it
        self.cancellable = True  # False: a user's short write, which happens once asked for
        self.state = TaskState.QUEUED
        self.result: Any = None
        self.error: BaseException | None = None
        self.progress_done = 0
        self.progress_total: int | None = None
        self.progress_text = ""
        self.progress = Progress(self._post_progress)
        # Set by the runner; progress updates are coalesced so a chatty loop cannot flood the GUI.
        self._poster: Callable[[Callable[[], None]], None] | None = None
        self._has_failure_handler = False
        self._pending_progress: tuple[int, int | None, str] | None = None
        self._progress_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Task {self.task_id} {self.label!r} {self.kind.value} {self.state.value}>"

    def cancel(self) -> None:
        """Ask the operation to stop; it ends as ``cancelled`` at its next progress report or check.
        A task that is not :attr:`cancellable` ignores it (it runs, even when the window closes)."""
        if self.cancellable:
            self.progress.cancel()

    @property
    def is_cancel_requested(self) -> bool:
        return self.progress.cancelled

    # -- called on the worker thread ----------------------------------------------------------

    def _post_progress(self, done: int, total: int | None, text: str) -> None:
        with self._progress_lock:
            already_posted = self._pending_progress is not None
            self._pending_progress = (done, total, text)
        if not already_posted and self._poster is not None:
            self._poster(self._deliver_progress)

    # -- called on the GUI thread -------------------------------------------------------------

    def _deliver_progress(self) -> None:
        with self._progress_lock:
            pending, self._pending_progress = self._pending_progress, None
        if pending is None or self.state.done:
            return
        done, total, text = pending
        self.progress_done, self.progress_total, self.progress_text = done, total, text
        self.progressed.emit(done, -1 if total is None else total, text)


class _Job(QRunnable):
    """Runs one task's operation on a pool thread and posts the outcome back to the GUI thread."""

    def __init__(self, runner: TaskRunner, task: Task, op: Operation, db_path: Path) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._runner = runner
        self._task = task
        self._op = op
        self._db_path = db_path

    def run(self) -> None:
        task = self._task
        post = self._runner._post
        if task.progress.cancelled:
            post(lambda: self._runner._complete(task, TaskState.CANCELLED, None, None))
            return
        post(lambda: self._runner._mark_running(task))
        try:
            result = self._op(self._db_path, task.progress)
        except Cancelled:
            post(lambda: self._runner._complete(task, TaskState.CANCELLED, None, None))
        except Exception as exc:  # delivered to the GUI, which decides how to tell the user
            log.debug("task %r failed", task, exc_info=True)
            post(partial(self._runner._complete, task, TaskState.FAILED, None, exc))
        else:
            # The work is done (a write has committed), so the result stands even if a cancel
            # arrived in the meantime: reporting "cancelled" would hide a change that happened.
            post(lambda: self._runner._complete(task, TaskState.SUCCEEDED, result, None))


def _in_own_context_action(
    action: Callable[[Context], Any], ctx: Context, _progress: Progress
) -> Any:
    """The progress-free action of :meth:`TaskRunner.write`, called as a long one."""
    return action(ctx)


def _in_own_context_with_progress(
    action: Callable[[Context, Progress], Any], db_path: Path, progress: Progress
) -> Any:
    """On a worker: ``action(ctx, progress)`` on a context of the worker's own (one connection
    per thread)."""
    from fieldrep.services.context import Context

    ctx = Context.open(db_path)
    try:
        return action(ctx, progress)
    finally:
        ctx.close()


class TaskRunner(QObject):
    """Runs operations off the GUI thread; lives on, and reports back to, the GUI thread.

    Every write a user asks for (a Save, a move, a delete, an import) goes through :meth:`write`,
    or :meth:`write_with_progress` when it is long: the action gets a context of its own on the
    write lane (or the network lane, for one that mostly waits on a server), never the window's
    connection, so the window never freezes and writes never race; its commit announces the
    tables it changed to :attr:`changes`, and the pages showing them refresh themselves. The
    result comes back to ``on_success`` on the GUI thread; a write the service refuses (a
    ``FieldRepError``, a ``ValidationError`` naming its field) to ``on_error`` at once, with the
    service's own sentence, so a dialog shows "which field, why" and stays open as typed (it
    disables its Save button meanwhile and closes in ``on_success``); any other exception to
    ``on_failure`` or the window's error box. A long write reports ``(done, total, text)`` to
    ``on_progress`` and can be cancelled; a short one cannot, it happens once asked for. Reads
    and housekeeping use :meth:`run`.
    """

    task_started = Signal(object)  # Task
    task_finished = Signal(object)  # Task, after its own signals
    task_failed = Signal(object, object)  # Task, exception: for a default error display
    busy_changed = Signal(bool)

    _closures_posted = Signal()

    def __init__(self, db_path: Path, parent: QObject | None = None, *, pool_size: int = 4) -> None:
        super().__init__(parent)
        # Kept as given: a DatabasePath carries the change hub to the operations' connections.
        self.db_path = db_path if isinstance(db_path, Path) else Path(db_path)
        self.changes = ChangeRelay(getattr(db_path, "changes", None), self)
        self._ids = itertools.count(1)
        self._tasks: dict[int, Task] = {}
        self._closures: deque[Callable[[], None]] = deque()
        self._closures_lock = threading.Lock()
        self._closed = False
        sys.setswitchinterval(min(sys.getswitchinterval(), GUI_SWITCH_INTERVAL_S))
        set_aside_bulk_leftovers()
        self._pools = {
            TaskKind.WRITE: self._make_pool("fieldrep-write", 1),
            TaskKind.READ: self._make_pool("fieldrep-read", pool_size),
            TaskKind.NETWORK: self._make_pool("fieldrep-net", pool_size),
        }
        # Queued: the worker only appends to a deque and emits; the GUI thread drains it.
        self._closures_posted.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    def _make_pool(self, name: str, size: int) -> QThreadPool:
        pool = QThreadPool(self)
        pool.setObjectName(name)
        pool.setMaxThreadCount(size)
        pool.setExpiryTimeout(_THREAD_EXPIRY_MS)
        return pool

    # -- public API ---------------------------------------------------------------------------

    def run(
        self,
        op: Operation,
        *,
        kind: TaskKind = TaskKind.READ,
        label: str = "",
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        quiet: bool = False,
    ) -> Task:
        """Start ``op(db_path, progress)`` on the lane for ``kind``; callbacks run on the GUI thread.

        A task without ``on_failure`` reports its exception through :attr:`task_failed` (the main
        window shows it), so no error passes silently. A ``quiet`` task is housekeeping the user
        did not ask for (e.g. preparing a search order): progress lines do not show it.
        """
        if self._closed:
            raise RuntimeError("the task runner has been shut down")
        task = Task(next(self._ids), kind, label or getattr(op, "__name__", "task"))
        task.quiet = quiet
        task._poster = self._post
        if on_success is not None:
            task.succeeded.connect(on_success)
        if on_failure is not None:
            task.failed.connect(on_failure)
        if on_progress is not None:
            task.progressed.connect(on_progress)
        if on_cancelled is not None:
            task.cancelled.connect(on_cancelled)
        task._has_failure_handler = on_failure is not None
        was_idle = not self._tasks
        self._tasks[task.task_id] = task
        self._pools[kind].start(_Job(self, task, op, self.db_path))
        self.task_started.emit(task)
        if was_idle:
            self.busy_changed.emit(True)
        return task

    def write(
        self,
        action: Callable[[Context], Any],
        *,
        label: str,
        on_success: Callable[[Any], None] | None = None,
        on_error: Callable[[FieldRepError], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> Task:
        """Run one user action that writes: the one shape for every write a user asks for.

        ``action(ctx)`` runs on the write lane (writes never race), with a context of its own
        opened there, so the GUI thread never waits for it; ``on_success`` receives its result on
        the GUI thread. Its commit announces the tables it changed
        (:class:`~fieldrep.store.changes.Changes`) to every listener of :attr:`changes`, so the
        pages showing them refresh themselves. A write the service refuses (a
        :class:`~fieldrep.domain.errors.FieldRepError`; a ``ValidationError`` names its
        ``field``) goes to ``on_error`` as soon as it is refused, for the screen to show the
        service's own sentence; any other exception goes to ``on_failure``, or without one to
        :attr:`task_failed` (the window's error box). A dialog that must stay open and keep its
        form until its write stood disables Save, calls ``write`` and closes in ``on_success``
        (it re-enables Save in ``on_error``): waiting without freezing. Such a write is not
        cancellable: once asked for it happens, even if the window closes at once (the runner's
        shutdown waits for it). A long write (an import, placing accounts online) takes
        ``(ctx, progress)`` and can be cancelled: :meth:`write_with_progress`.
        """
        task = self.write_with_progress(
            partial(_in_own_context_action, action),
            label=label,
            on_success=on_success,
            on_error=on_error,
            on_failure=on_failure,
        )
        task.cancellable = False
        return task

    def write_with_progress(
        self,
        action: Callable[[Context, Progress], Any],
        *,
        label: str,
        on_success: Callable[[Any], None] | None = None,
        on_error: Callable[[FieldRepError], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        lane: TaskKind = TaskKind.WRITE,
        quiet: bool = False,
    ) -> Task:
        """:meth:`write` for a long action: ``action(ctx, progress)`` reports through
        ``progress.report(done, total, text)`` (``on_progress`` gets it on the GUI thread) and
        stops with :class:`Cancelled` once :meth:`Task.cancel` was called (``on_cancelled``). An
        action that mostly waits on the network (placing accounts online) takes the ``NETWORK``
        lane so it does not hold back other writes for minutes; it still writes on its own
        context and its commits are announced alike."""
        task_box: list[Task] = []

        def failed(error: BaseException) -> None:
            if on_error is not None and isinstance(error, FieldRepError):
                on_error(error)
            elif on_failure is not None:
                on_failure(error)
            else:
                log.error("task %r failed: %s", task_box[0], error, exc_info=error)
                self.task_failed.emit(task_box[0], error)

        task = self.run(
            partial(_in_own_context_with_progress, action),
            kind=lane,
            label=label,
            on_success=on_success,
            on_failure=failed,
            on_progress=on_progress,
            on_cancelled=on_cancelled,
            quiet=quiet,
        )
        task_box.append(task)
        return task

    @property
    def active_tasks(self) -> list[Task]:
        """Tasks submitted and not yet finished, oldest first."""
        return list(self._tasks.values())

    @property
    def is_idle(self) -> bool:
        return not self._tasks

    @property
    def threads_in_use(self) -> int:
        """Worker threads currently running an operation (diagnostics and tests)."""
        return sum(pool.activeThreadCount() for pool in self._pools.values())

    def cancel_all(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()

    def wait_for_idle(self) -> None:
        """Block until every submitted operation has ended, then deliver their results.

        The workers never wait for the GUI thread, so blocking it here cannot deadlock; operations
        must however honour cancellation for this to return promptly after :meth:`cancel_all`.
        """
        for pool in self._pools.values():
            pool.waitForDone()
        self._drain()

    @property
    def closed(self) -> bool:
        """Whether :meth:`shutdown` was called: no new work is taken."""
        return self._closed

    def shutdown(self) -> None:
        """Cancel everything, wait for the workers and join their threads; no thread survives."""
        if self._closed:
            return
        self._closed = True
        self.cancel_all()
        self.wait_for_idle()
        self.changes.close()
        for pool in self._pools.values():
            pool.clear()
            pool.waitForDone()  # also ends and removes the pool's idle threads

    # -- worker -> GUI plumbing ---------------------------------------------------------------

    def _post(self, closure: Callable[[], None]) -> None:
        """Queue ``closure`` to run on the GUI thread (callable from any thread)."""
        with self._closures_lock:
            self._closures.append(closure)
        self._closures_posted.emit()

    @Slot()
    def _drain(self) -> None:
        while True:
            with self._closures_lock:
                if not self._closures:
                    return
                closure = self._closures.popleft()
            try:
                closure()
            except Exception:  # a broken callback must not stop later results from arriving
                log.exception("a task callback failed")

    def _mark_running(self, task: Task) -> None:
        if task.state is TaskState.QUEUED:
            task.state = TaskState.RUNNING

    def _complete(
        self, task: Task, state: TaskState, result: Any, error: BaseException | None
    ) -> None:
        if task.state.done:
            return
        task._deliver_progress()  # a last progress update must not arrive after the outcome
        task.state = state
        task.result = result
        task.error = error
        self._tasks.pop(task.task_id, None)
        if state is TaskState.SUCCEEDED:
            task.succeeded.emit(result)
        elif state is TaskState.FAILED:
            task.failed.emit(error)
            if not task._has_failure_handler:
                log.error("task %r failed: %s", task, error, exc_info=error)
                self.task_failed.emit(task, error)
        else:
            task.cancelled.emit()
        task.finished.emit()
        self.task_finished.emit(task)
        if not self._tasks:
            self.busy_changed.emit(False)
