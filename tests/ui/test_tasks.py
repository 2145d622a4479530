"""The background task runner: results, progress, cancellation, errors and lanes, on real threads."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from fieldrep.domain.errors import FieldRepError, ValidationError
from fieldrep.services.context import Context
from fieldrep.ui.tasks import Progress, TaskKind, TaskRunner, TaskState
from fieldrep.ui.widgets.task_progress import TaskProgressWidget

# Safety net only: a broken runner fails the test instead of hanging it. Never a speed limit.
SAFETY_S = 10.0


def test_result_arrives_on_the_gui_thread(qtbot: QtBot, runner: TaskRunner) -> None:
    gui_thread = threading.get_ident()
    seen: dict[str, int] = {}

    def op(db_path: Path, progress: Progress) -> int:
        seen["op"] = threading.get_ident()
        return 42

    def on_success(value: int) -> None:
        seen["callback"] = threading.get_ident()
        seen["value"] = value

    task = runner.run(op, on_success=on_success)
    with qtbot.waitSignal(task.finished):
        pass
    assert seen["value"] == 42
    assert seen["callback"] == gui_thread
    assert seen["op"] != gui_thread
    assert task.state is TaskState.SUCCEEDED
    assert task.result == 42
    assert runner.is_idle


def test_progress_reaches_the_gui_in_order(qtbot: QtBot, runner: TaskRunner) -> None:
    received: list[tuple[int, int, str]] = []

    def op(db_path: Path, progress: Progress) -> str:
        for step in range(1, 6):
            progress.report(step, 5, f"step {step}")
        return "done"

    task = runner.run(op, on_progress=lambda d, t, s: received.append((d, t, s)))
    with qtbot.waitSignal(task.finished):
        pass
    # Updates are coalesced, so not every step must arrive, but the last one must, in order,
    # and before the result.
    assert received, "no progress arrived"
    assert received[-1] == (5, 5, "step 5")
    assert [d for d, _t, _s in received] == sorted(d for d, _t, _s in received)
    assert (task.progress_done, task.progress_total, task.progress_text) == (5, 5, "step 5")


def test_unknown_total_is_reported_as_minus_one(qtbot: QtBot, runner: TaskRunner) -> None:
    def op(db_path: Path, progress: Progress) -> None:
        progress.report(3, None, "counting")

    task = runner.run(op)
    with qtbot.waitSignal(task.progressed) as blocker:
        pass
    assert blocker.args == [3, -1, "counting"]
    qtbot.waitUntil(lambda: runner.is_idle)


def test_cancel_stops_a_running_operation(qtbot: QtBot, runner: TaskRunner) -> None:
    started = threading.Event()
    successes: list[object] = []

    def op(db_path: Path, progress: Progress) -> str:
        started.set()
        progress.sleep(3600)  # wakes as soon as the task is cancelled
        return "ran to the end"

    task = runner.run(op, kind=TaskKind.NETWORK, on_success=successes.append)
    qtbot.waitUntil(started.is_set)
    with qtbot.waitSignal(task.cancelled):
        task.cancel()
    assert task.state is TaskState.CANCELLED
    assert successes == []
    qtbot.waitUntil(lambda: runner.is_idle)


def test_cancel_before_start_never_runs_the_operation(qtbot: QtBot, runner: TaskRunner) -> None:
    gate = threading.Event()
    ran: list[str] = []

    def blocker_op(db_path: Path, progress: Progress) -> None:
        assert gate.wait(SAFETY_S)
        ran.append("first")

    def queued_op(db_path: Path, progress: Progress) -> None:
        ran.append("second")

    first = runner.run(blocker_op, kind=TaskKind.WRITE)
    second = runner.run(queued_op, kind=TaskKind.WRITE)  # waits behind the first on the write lane
    second.cancel()
    gate.set()
    with qtbot.waitSignals([first.finished, second.finished]):
        pass
    assert first.state is TaskState.SUCCEEDED
    assert second.state is TaskState.CANCELLED
    assert ran == ["first"]


def test_exception_is_delivered_as_an_error(qtbot: QtBot, runner: TaskRunner) -> None:
    errors: list[BaseException] = []
    unhandled: list[object] = []
    runner.task_failed.connect(lambda task, exc: unhandled.append(exc))

    def op(db_path: Path, progress: Progress) -> None:
        raise ValueError("the server said no")

    task = runner.run(op, on_failure=errors.append)
    with qtbot.waitSignal(task.finished):
        pass
    assert task.state is TaskState.FAILED
    assert len(errors) == 1
    assert isinstance(errors[0], ValueError)
    assert str(errors[0]) == "the server said no"
    assert task.error is errors[0]
    assert unhandled == [], "a handled failure must not also go to the default error display"


def test_unhandled_exception_goes_to_task_failed(
    qtbot: QtBot, runner: TaskRunner, caplog: pytest.LogCaptureFixture
) -> None:
    def op(db_path: Path, progress: Progress) -> None:
        raise RuntimeError("disk full")

    with qtbot.waitSignal(runner.task_failed) as blocker:
        runner.run(op, label="Export")
    task, error = blocker.args
    assert task.label == "Export"
    assert isinstance(error, RuntimeError)
    assert "Export" in caplog.text
    assert "disk full" in caplog.text


def test_a_failing_callback_does_not_block_later_results(qtbot: QtBot, runner: TaskRunner) -> None:
    def broken_callback(value: object) -> None:
        raise KeyError("bug in a page")

    results: list[object] = []
    with qtbot.captureExceptions() as exceptions:
        first = runner.run(lambda db, p: 1, on_success=broken_callback)
        second = runner.run(lambda db, p: 2, on_success=results.append)
        with qtbot.waitSignals([first.finished, second.finished]):
            pass
    assert results == [2]
    assert [type(exc) for _type, exc, _tb in exceptions] == [KeyError]
    assert runner.is_idle


def test_writes_are_serialised_on_one_worker(qtbot: QtBot, runner: TaskRunner) -> None:
    second_submitted = threading.Event()
    second_started = threading.Event()
    observations: dict[str, object] = {}

    def first(db_path: Path, progress: Progress) -> int:
        assert second_submitted.wait(SAFETY_S)
        # If writes were not serialised the second would start now, while we still hold the lane.
        observations["second_started_meanwhile"] = second_started.wait(0.3)
        return threading.get_ident()

    def second(db_path: Path, progress: Progress) -> int:
        second_started.set()
        return threading.get_ident()

    t1 = runner.run(first, kind=TaskKind.WRITE)
    t2 = runner.run(second, kind=TaskKind.WRITE)
    second_submitted.set()
    with qtbot.waitSignals([t1.finished, t2.finished]):
        pass
    assert observations["second_started_meanwhile"] is False
    assert t1.result == t2.result, "both writes should run on the one write worker"


def test_reads_run_in_parallel(qtbot: QtBot, runner: TaskRunner) -> None:
    # The contrast to the write lane: two reads meet at a barrier only if they run at once.
    barrier = threading.Barrier(2, timeout=SAFETY_S)

    def op(db_path: Path, progress: Progress) -> int:
        return barrier.wait()

    tasks = [runner.run(op, kind=TaskKind.READ) for _ in range(2)]
    with qtbot.waitSignals([t.finished for t in tasks]):
        pass
    assert all(t.state is TaskState.SUCCEEDED for t in tasks)
    assert sorted(t.result for t in tasks) == [0, 1]


def test_each_worker_uses_its_own_connection(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    def add_users(db_path: Path, progress: Progress) -> int:
        worker_ctx = Context.open(db_path)
        try:
            for n in range(3):
                worker_ctx.writer.insert(
                    "users", {"username": f"rep{n}", "display_name": f"Rep {n}", "role": "rep"}
                )
            return id(worker_ctx.db.conn)
        finally:
            worker_ctx.close()

    task = runner.run(add_users, kind=TaskKind.WRITE)
    with qtbot.waitSignal(task.finished):
        pass
    assert task.state is TaskState.SUCCEEDED, task.error
    assert task.result != id(ctx.db.conn)
    assert ctx.db.execute("SELECT count(*) FROM users").fetchone()[0] == 3
    assert ctx.db.execute("SELECT count(*) FROM outbox WHERE tbl = 'users'").fetchone()[0] == 3


def test_a_user_action_writes_on_its_own_context_and_announces_what_it_changed(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    """runner.write, the one shape of a user action that writes: the action gets a context of the
    worker's own, its result comes back on the GUI thread, and its commit is announced."""
    seen: list[tuple[int, bool]] = []

    def add_user(worker: Context) -> str:
        seen.append((id(worker.db.conn), threading.current_thread() is threading.main_thread()))
        return str(worker.writer.insert("users", {"username": "pat", "display_name": "Pat"}))

    results: list[str] = []
    with qtbot.waitSignal(runner.changes.changed, timeout=5_000) as blocker:
        task = runner.write(add_user, label="Adding Pat", on_success=results.append)
    qtbot.waitUntil(lambda: task.state.done)
    assert task.state is TaskState.SUCCEEDED, task.error
    assert task.kind is TaskKind.WRITE
    assert blocker.args[0].touches("users")
    [(conn_id, on_gui_thread)] = seen
    assert conn_id != id(ctx.db.conn)
    assert not on_gui_thread
    assert results == [ctx.db.execute("SELECT id FROM users WHERE username = 'pat'").fetchone()[0]]


def test_a_refused_write_comes_back_as_the_services_sentence_and_a_bug_as_a_failure(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    """runner.write's on_error gets what the service refused (its sentence, its field); an
    exception that is not a refusal goes to the window's error display instead."""
    refused: list[tuple[str, str]] = []
    unhandled: list[BaseException] = []
    runner.task_failed.connect(lambda _task, exc: unhandled.append(exc))

    def add_nameless(worker: Context) -> None:
        raise ValidationError("name is required", table="users", field="name")

    def on_error(error: FieldRepError) -> None:
        assert isinstance(error, ValidationError)
        refused.append((str(error), error.field))

    task = runner.write(add_nameless, label="Adding", on_error=on_error)
    qtbot.waitUntil(lambda: task.state.done)
    assert task.state is TaskState.FAILED
    assert refused == [("name is required", "name")]
    assert unhandled == []

    def broken(_worker: Context) -> None:
        raise KeyError("bug")

    task = runner.write(broken, label="Broken", on_error=on_error)
    qtbot.waitUntil(lambda: task.state.done)
    assert len(refused) == 1
    assert [type(e) for e in unhandled] == [KeyError]


def test_a_user_write_asked_for_just_before_closing_still_happens(
    ctx: Context, runner: TaskRunner
) -> None:
    """A write queued behind another when the window closes is not cancelled by the shutdown:
    what the user asked for is written (a long write, by contrast, stops on cancel)."""
    release = threading.Event()

    def slow(worker: Context) -> None:
        release.wait(SAFETY_S)

    first = runner.write(slow, label="Slow")
    queued = runner.write(
        lambda w: w.writer.insert("users", {"username": "late", "display_name": "Late"}),
        label="Late",
    )
    queued.cancel()  # what the shutdown does to every task
    assert not queued.is_cancel_requested
    release.set()
    runner.shutdown()
    assert (first.state, queued.state) == (TaskState.SUCCEEDED, TaskState.SUCCEEDED)
    assert ctx.db.execute("SELECT count(*) FROM users WHERE username = 'late'").fetchone()[0] == 1


def test_a_long_write_reports_progress_and_stops_on_cancel(
    qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    """write_with_progress: the same shape with (ctx, progress); progress reaches the GUI, a
    cancel ends the task as cancelled, and each commit made before it stands and is announced."""
    started = threading.Event()
    proceed = threading.Event()
    received: list[tuple[int, int, str]] = []
    cancelled: list[bool] = []

    def add_users(worker: Context, progress: Progress) -> int:
        for n in range(1, 4):
            worker.writer.insert("users", {"username": f"u{n}", "display_name": f"U{n}"})
            progress.report(n, 3, "Adding users")
            if n == 1:
                started.set()
                proceed.wait(SAFETY_S)
        return 3

    with qtbot.waitSignal(runner.changes.changed, timeout=5_000):
        task = runner.write_with_progress(
            add_users,
            label="Adding users",
            on_progress=lambda d, t, s: received.append((d, t, s)),
            on_cancelled=lambda: cancelled.append(True),
        )
        assert started.wait(SAFETY_S)
    qtbot.waitUntil(lambda: bool(received))
    task.cancel()
    proceed.set()
    qtbot.waitUntil(lambda: task.state.done)
    assert task.state is TaskState.CANCELLED
    assert cancelled == [True]
    assert received[0] == (1, 3, "Adding users")
    names = {r[0] for r in ctx.db.execute("SELECT username FROM users WHERE username LIKE 'u_'")}
    assert names == {"u1", "u2"}  # the second insert ran before its report noticed the cancel


def test_wait_for_idle_delivers_results(runner: TaskRunner) -> None:
    results: list[int] = []
    for n in range(6):
        runner.run(lambda db, p, n=n: n * n, kind=TaskKind.NETWORK, on_success=results.append)
    runner.wait_for_idle()
    assert sorted(results) == [0, 1, 4, 9, 16, 25]
    assert runner.is_idle


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_shutdown_cancels_and_leaves_no_thread(qtbot: QtBot, db_path: Path) -> None:
    runner = TaskRunner(db_path)
    started = threading.Barrier(3, timeout=SAFETY_S)
    workers: list[int] = []
    outcomes: list[str] = []

    def long_op(db_path: Path, progress: Progress) -> None:
        workers.append(threading.get_native_id())
        started.wait()
        progress.sleep(3600)

    for kind in (TaskKind.READ, TaskKind.NETWORK):
        runner.run(long_op, kind=kind, on_cancelled=lambda: outcomes.append("cancelled"))
    started.wait()  # both are running, each on its own thread
    live = set(os.listdir("/proc/self/task"))
    assert {str(tid) for tid in workers} <= live
    runner.shutdown()
    assert outcomes == ["cancelled", "cancelled"]
    assert runner.is_idle
    assert runner.threads_in_use == 0
    # The worker threads themselves exit (not merely go idle in their pools). QThread::wait()
    # returns once run() has finished, a moment before the OS thread is gone from /proc.
    qtbot.waitUntil(
        lambda: not {str(tid) for tid in workers} & set(os.listdir("/proc/self/task")),
        timeout=int(SAFETY_S * 1000),
    )
    with pytest.raises(RuntimeError, match="shut down"):
        runner.run(long_op)


def test_progress_widget_follows_and_cancels(qtbot: QtBot, runner: TaskRunner) -> None:
    widget = TaskProgressWidget()
    qtbot.addWidget(widget)
    widget.attach(runner)
    reported = threading.Event()

    def op(db_path: Path, progress: Progress) -> None:
        progress.report(2, 10, "Geocoding accounts")
        reported.set()
        progress.sleep(3600)

    task = runner.run(op, kind=TaskKind.NETWORK, label="Geocode")
    assert widget.task is task
    assert not widget.isHidden()
    qtbot.waitUntil(lambda: widget.label.text() == "Geocoding accounts")
    assert (widget.bar.value(), widget.bar.maximum()) == (2, 10)
    with qtbot.waitSignal(task.cancelled):
        qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
    assert widget.isHidden()
    assert widget.task is None


def test_what_a_paused_collector_left_young_is_set_aside_not_walked(runner: TaskRunner) -> None:
    """After a bulk job with automatic collection paused, the next young collection freezes the
    job's survivors (constant time) instead of walking each one with the GIL held."""
    import gc

    from fieldrep.ui.tasks import LEFTOVER_OBJECTS

    assert runner is not None  # the runner installs the policy
    frozen_before = gc.get_freeze_count()
    try:
        gc.disable()
        survivors = [[i] for i in range(LEFTOVER_OBJECTS + 1_000)]  # tracked: lists
        gc.enable()
        gc.collect(0)
        assert gc.get_freeze_count() >= frozen_before + len(survivors)
        small = [[i] for i in range(100)]  # a young generation of ordinary size: collected
        frozen = gc.get_freeze_count()
        gc.collect(0)
        assert gc.get_freeze_count() == frozen
        del small, survivors
    finally:
        gc.enable()
        gc.unfreeze()  # back into the oldest generation, as other tests expect
