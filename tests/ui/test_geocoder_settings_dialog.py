"""The Geocoding dialog with real widgets offscreen on a real SQLite file: the placement counts and
the unplaced list, saving and checking the Nominatim settings, and "Place accounts online" through
geopy's real Nominatim class against a loopback server that answers like Nominatim, with Cancel."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from fieldrep.geo.geocoder_settings import (
    PUBLIC_NOMINATIM,
    OnlineSettings,
    load_settings,
    save_settings,
)
from fieldrep.geo.online_refine import RefineReport
from fieldrep.services.context import Context
from fieldrep.ui import theme
from fieldrep.ui.dialogs.geocoder_settings_dialog import GeocoderSettingsDialog, report_text
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.pages import PAGES
from fieldrep.ui.tasks import TaskRunner
from tests.geo.nominatim_server import running_nominatim

# Generous: only a hang guard on a busy shared machine, never a speed requirement.
WAIT_MS = 60_000


def _account(ctx: Context, name: str, street: str | None, quality: str | None, **more: str) -> str:
    values: dict[str, object] = {"name": name, "street": street, "city": "Cambridge"}
    values.update(region="MA", postal_code="02139")
    values.update(more)
    if quality:
        values.update(lat=42.37, lon=-71.10, geocode_quality=quality, geocode_source="gazetteer")
    return ctx.writer.insert("accounts", values)


@pytest.fixture
def accounts(ctx: Context) -> dict[str, str]:
    return {
        "street": _account(ctx, "Acme Tools", "1 Main St", "postal_code"),
        "lost_street": _account(ctx, "Far Away", "9 Nowhere Rd", "postal_code"),
        "pinned": _account(ctx, "Pinned Co", "5 Main St", "manual"),
        "town": _account(ctx, "Oddball", None, None, city="Oddville", postal_code=""),
        "atlantis": _account(ctx, "Lost Ltd", None, None, city="Atlantis", postal_code=""),
        "nothing": _account(ctx, "Blank Inc", None, None, city="", region="", postal_code=""),
    }


@pytest.fixture
def dialog(
    ctx: Context, runner: TaskRunner, qtbot: QtBot, accounts: dict[str, str]
) -> Iterator[GeocoderSettingsDialog]:
    widget = GeocoderSettingsDialog(ctx, runner)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    runner.wait_for_idle()


@pytest.fixture
def nominatim() -> Iterator[ThreadingHTTPServer]:
    with running_nominatim() as server:
        yield server


def _tiles(dialog: GeocoderSettingsDialog) -> list[tuple[str, str]]:
    grid = dialog.counts_grid
    return [
        (grid.itemAtPosition(1, c).widget().text(), grid.itemAtPosition(0, c).widget().text())
        for c in range(grid.columnCount())
        if grid.itemAtPosition(0, c) is not None
    ]


def _fill(
    dialog: GeocoderSettingsDialog, agent: str, url: str = "", delay: float = 1.0, on: bool = True
) -> None:
    dialog.enabled_check.setChecked(on)
    dialog.user_agent_edit.setText(agent)
    dialog.url_edit.setText(url)
    dialog.delay_spin.setValue(delay)


def _configure(
    dialog: GeocoderSettingsDialog, qtbot: QtBot, server: ThreadingHTTPServer, delay: float
) -> None:
    host, port = server.server_address[:2]
    _fill(dialog, "acme-fieldrep-tests", f"http://{host}:{port}", delay)
    with qtbot.waitSignal(dialog.settings_saved):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.saved.enabled


def test_counts_by_quality_and_the_unplaced_list(
    dialog: GeocoderSettingsDialog, qtbot: QtBot
) -> None:
    assert _tiles(dialog) == [
        ("ZIP, approx.", "2"),
        ("Pinned by hand", "1"),
        ("Not placed", "3"),
    ]
    assert dialog.cached_label.text().startswith("6 accounts, 3 on the map; 0 online answers")
    assert "3 accounts have no location" in dialog.unplaced_label.text()
    # The list is read when asked for, and names every unplaced account, one without any address too.
    assert not dialog.unplaced_table.isVisible()
    assert dialog.unplaced_model.rowCount() == 0
    qtbot.mouseClick(dialog.unplaced_button, Qt.MouseButton.LeftButton)
    assert dialog.unplaced_table.isVisible()
    model = dialog.unplaced_model
    shown = [(model.index(r, 0).data(), model.index(r, 1).data()) for r in range(model.rowCount())]
    assert shown == [
        ("Blank Inc", "no street, city or ZIP code to look up"),
        ("Lost Ltd", "Atlantis, MA (US)"),
        ("Oddball", "Oddville, MA (US)"),
    ]
    assert dialog.unplaced_button.text() == "Hide the list"
    # The dialog grows to show the list whole (it used to be clipped at two thirds of a screen).
    room = dialog.screen().availableGeometry().height() - 60
    assert dialog.height() >= min(dialog.sizeHint().height(), room)


def test_every_account_placed_says_so(ctx: Context, runner: TaskRunner, qtbot: QtBot) -> None:
    _account(ctx, "Acme Tools", "1 Main St", "address")
    widget = GeocoderSettingsDialog(ctx, runner)
    qtbot.addWidget(widget)
    widget.show()
    assert widget.unplaced_label.text() == "Every account is on the map."
    assert not widget.unplaced_button.isVisible()
    assert _tiles(widget) == [("Exact address", "1")]


def test_nothing_to_place_says_so(ctx: Context, runner: TaskRunner, qtbot: QtBot) -> None:
    _account(ctx, "Acme Tools", "1 Main St", "address")
    _account(ctx, "Town Only", None, "city")
    save_settings(ctx.conn, OnlineSettings(provider="nominatim", user_agent="acme"))
    widget = GeocoderSettingsDialog(ctx, runner)
    qtbot.addWidget(widget)
    assert not widget.place_button.isEnabled()
    assert widget.place_reason.text().startswith("Nothing to place:")
    assert widget.place_online() is None


def test_off_by_default_and_placing_says_why_not(dialog: GeocoderSettingsDialog) -> None:
    assert not dialog.enabled_check.isChecked()
    assert not dialog.form.isEnabled()
    assert dialog.user_agent_edit.text() == ""  # the built-in default names nobody
    assert dialog.url_edit.text() == f"https://{PUBLIC_NOMINATIM}"
    assert not dialog.place_button.isEnabled()
    assert "The online geocoder is off" in dialog.place_reason.text()
    assert dialog.place_button.toolTip() == dialog.place_reason.text()
    assert dialog.place_online() is None


def test_saving_turns_nominatim_on_and_off(
    dialog: GeocoderSettingsDialog, ctx: Context, qtbot: QtBot
) -> None:
    _fill(dialog, "  acme-fieldrep (it@acme.com) ", "geo.acme.com:8080/nominatim/", 0.5)
    assert dialog.form.isEnabled()
    assert dialog.has_unsaved_changes
    assert "Save your changes first" in dialog.place_reason.text()
    with qtbot.waitSignal(dialog.settings_saved) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    expected = OnlineSettings(
        provider="nominatim",
        user_agent="acme-fieldrep (it@acme.com)",
        domain="geo.acme.com:8080/nominatim",
        scheme="https",
        min_delay_seconds=0.5,
    )
    assert saved.args == [expected]
    assert load_settings(ctx.conn) == expected
    assert dialog.url_edit.text() == "https://geo.acme.com:8080/nominatim"  # shown as stored
    assert not dialog.has_unsaved_changes
    assert dialog.save_message.text().startswith("Saved: accounts are placed online through")
    # Two street addresses by ZIP and two unplaced towns can be looked up; "Blank Inc" cannot.
    assert dialog.place_button.isEnabled()
    assert dialog.place_reason.text().startswith("4 accounts to check through geo.acme.com")

    dialog.enabled_check.setChecked(False)
    assert not dialog.form.isEnabled()
    with qtbot.waitSignal(dialog.settings_saved):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        assert not dialog.save_button.isEnabled()  # Save waits for its write
    assert dialog.save_button.isEnabled()
    stored = load_settings(ctx.conn)
    assert not stored.enabled
    assert stored.user_agent == "acme-fieldrep (it@acme.com)"  # kept for turning it back on
    assert "the online geocoder is off" in dialog.save_message.text()
    assert not dialog.place_button.isEnabled()


@pytest.mark.parametrize(
    ("agent", "url", "delay", "field", "message"),
    [
        ("", "", 1.0, "user_agent", "Nominatim needs a user agent naming your organisation"),
        ("acme", "", 0.5, "min_delay", "at least 1 second on the public Nominatim server"),
        ("acme", "ftp://geo.acme.com", 1.0, "url", "'ftp://geo.acme.com' is not an http(s)"),
        ("acme", "geo.acme.com:eighty", 1.0, "url", "has a port that is not a number"),
    ],
)
def test_bad_settings_are_shown_beside_the_field_and_not_saved(
    dialog: GeocoderSettingsDialog,
    ctx: Context,
    qtbot: QtBot,
    agent: str,
    url: str,
    delay: float,
    field: str,
    message: str,
) -> None:
    _fill(dialog, agent, url, delay)
    assert dialog.save() is None
    assert message in dialog.field_error(field)
    assert [f for f in dialog.errors if dialog.field_error(f)] == [field]
    assert dialog.save_message.text() == "Not saved: please correct the field marked in red."
    assert load_settings(ctx.conn) == OnlineSettings()
    assert not dialog.place_button.isEnabled()
    # Editing again clears the message until the next save.
    dialog.user_agent_edit.setText("acme-fieldrep")
    assert dialog.field_error(field) == ""


def test_turning_off_needs_no_valid_details(ctx: Context, runner: TaskRunner, qtbot: QtBot) -> None:
    save_settings(ctx.conn, OnlineSettings(provider="nominatim", user_agent="acme"))
    widget = GeocoderSettingsDialog(ctx, runner)
    qtbot.addWidget(widget)
    widget.user_agent_edit.clear()
    widget.enabled_check.setChecked(False)
    with qtbot.waitSignal(widget.settings_saved) as saved:
        assert widget.save() is not None
    assert saved.args == [OnlineSettings()]
    assert load_settings(ctx.conn) == OnlineSettings()


def test_place_online_reports_and_refreshes(
    dialog: GeocoderSettingsDialog, ctx: Context, qtbot: QtBot, nominatim: ThreadingHTTPServer
) -> None:
    _configure(dialog, qtbot, nominatim, delay=0.01)
    progressed: list[tuple[int, int]] = []
    with qtbot.waitSignal(dialog.placing_finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(dialog.place_button, Qt.MouseButton.LeftButton)
        assert dialog.task is not None
        dialog.task.progressed.connect(lambda done, total, _t: progressed.append((done, total)))
        assert not dialog.place_button.isEnabled()
        assert dialog.place_reason.text() == "Placing is under way."
        assert not dialog.form.isEnabled()
        assert not dialog.save_button.isEnabled()
        assert dialog.task_line.isVisible()
    report = finished.args[0]
    assert isinstance(report, RefineReport)
    # Acme (street) and Oddball (a town it had no place for) improved; Far Away and Atlantis not.
    assert (report.total, report.checked, report.improved, report.placed) == (4, 4, 2, 1)
    assert report.not_found == 2
    assert report.stopped_reason == ""
    assert progressed[-1] == (4, 4)
    assert dialog.result_label.text() == (
        "Checked 4 of 4 accounts: 2 placed more precisely (1 of them had no location),"
        " 2 not found online."
    )
    assert nominatim.user_agents == ["acme-fieldrep-tests"] * 4  # type: ignore[attr-defined]
    rows = dict(ctx.conn.execute("SELECT name, geocode_quality FROM accounts").fetchall())
    assert rows["Acme Tools"] == "address"
    assert rows["Oddball"] == "city"
    assert rows["Pinned Co"] == "manual"
    # The counts and the list follow; the unplaced ones stay listed, never dropped.
    assert "2 accounts have no location" in dialog.unplaced_label.text()
    assert ("Not placed", "2") in _tiles(dialog)
    assert "4 online answers kept" in dialog.cached_label.text()
    assert dialog.place_button.isEnabled()
    assert dialog.form.isEnabled()
    assert not dialog.task_line.isVisible()


def test_cancel_keeps_what_was_placed_and_says_how_far_it_got(
    ctx: Context, runner: TaskRunner, qtbot: QtBot, nominatim: ThreadingHTTPServer
) -> None:
    for i in range(30):
        _account(ctx, f"Shop {i:02d}", f"{i + 1} Main St", "postal_code")
    widget = GeocoderSettingsDialog(ctx, runner)
    qtbot.addWidget(widget)
    widget.show()
    _configure(widget, qtbot, nominatim, delay=0.1)
    with qtbot.waitSignal(widget.placing_finished, timeout=WAIT_MS) as finished:
        task = widget.place_online()
        assert task is not None
        # Cancel as soon as the first answer is in, with the progress line's own button.
        with qtbot.waitSignal(task.progressed, timeout=WAIT_MS):
            pass
        qtbot.mouseClick(widget.task_line.cancel_button, Qt.MouseButton.LeftButton)
        assert widget.task_line.label.text() == "Cancelling Placing accounts online..."
    report = finished.args[0]
    assert report.stopped_reason == "cancelled"
    assert 1 <= report.checked < report.total == 30
    upgraded = ctx.conn.execute(
        "SELECT count(*) FROM accounts WHERE geocode_quality = 'address'"
    ).fetchone()[0]
    assert upgraded == report.improved == report.checked  # each answer was kept
    assert widget.result_label.text().endswith(
        "Stopped when you cancelled; what was found is kept."
    )
    assert widget.place_button.isEnabled()
    runner.wait_for_idle()


def test_closing_while_placing_cancels(
    dialog: GeocoderSettingsDialog, qtbot: QtBot, nominatim: ThreadingHTTPServer
) -> None:
    _configure(dialog, qtbot, nominatim, delay=0.2)
    with qtbot.waitSignal(dialog.placing_finished, timeout=WAIT_MS) as finished:
        task = dialog.place_online()
        assert task is not None
        dialog.reject()
        assert task.is_cancel_requested
    assert finished.args[0] is None or finished.args[0].stopped_reason == "cancelled"


def test_unreachable_server_is_reported(
    dialog: GeocoderSettingsDialog, qtbot: QtBot, nominatim: ThreadingHTTPServer
) -> None:
    _configure(dialog, qtbot, nominatim, delay=0.01)
    nominatim.fail = True  # type: ignore[attr-defined]
    with qtbot.waitSignal(dialog.placing_finished, timeout=WAIT_MS):
        dialog.place_online()
    text = dialog.result_label.text()
    assert "Stopped: the geocoder could not be reached" in text
    assert theme.DANGER in dialog.result_label.styleSheet()


def test_report_text_for_a_run_answered_from_earlier() -> None:
    report = RefineReport(checked=5, improved=1, not_found=4, requests_sent=1, total=5)
    assert report_text(report) == (
        "Checked 5 of 5 accounts: 1 placed more precisely, 4 not found online."
        " 1 request sent; the rest answered from earlier."
    )


def test_report_text_names_answers_that_could_not_be_read() -> None:
    report = RefineReport(
        checked=3, improved=1, not_found=0, requests_sent=3, total=3, unreadable=2
    )
    assert report_text(report) == (
        "Checked 3 of 3 accounts: 1 placed more precisely, 0 not found online."
        " 2 answers could not be read; asked again next time."
    )


def _menu_texts(window: MainWindow) -> dict[str, list[str]]:
    return {
        top.text(): [a.text() for a in top.menu().actions()]
        for top in window.menuBar().actions()
        if top.menu() is not None
    }


def _trigger(window: MainWindow, text: str) -> None:
    for top in window.menuBar().actions():
        for action in top.menu().actions():
            if action.text() == text:
                action.trigger()
                return
    raise AssertionError(f"no menu entry {text!r}")


def test_main_window_offers_it_beside_sync_settings(
    ctx: Context, runner: TaskRunner, qtbot: QtBot, settings: QSettings
) -> None:
    from fieldrep.ui.sync_controller import SyncController

    controller = SyncController(ctx, runner)  # never started: no server is needed here
    window = MainWindow(ctx, runner, settings, pages=PAGES, sync=controller)
    qtbot.addWidget(window)
    sync_menu = _menu_texts(window)["&Sync"]
    assert sync_menu[sync_menu.index("Sync &settings…") + 1] == "&Geocoding settings…"
    _trigger(window, "&Geocoding settings…")
    dialog = window.open_geocoder_settings()
    assert isinstance(dialog, GeocoderSettingsDialog)
    assert dialog.isVisible()
    assert window.open_geocoder_settings() is dialog  # one dialog, shown again


def test_main_window_without_sync_has_it_in_the_file_menu(
    ctx: Context, runner: TaskRunner, qtbot: QtBot, settings: QSettings
) -> None:
    window = MainWindow(ctx, runner, settings, pages=PAGES)
    qtbot.addWidget(window)
    assert "&Geocoding settings…" in _menu_texts(window)["&File"]
    _trigger(window, "&Geocoding settings…")
    assert window.open_geocoder_settings().isVisible()


def test_turning_the_geocoder_on_offers_locate_on_the_accounts_page(
    ctx: Context, runner: TaskRunner, qtbot: QtBot, settings: QSettings, accounts: dict[str, str]
) -> None:
    window = MainWindow(ctx, runner, settings, pages=PAGES)
    qtbot.addWidget(window)
    window.show()
    window.show_page("accounts")
    page = window.page("accounts")
    assert page is not None
    qtbot.waitUntil(lambda: page._painted, timeout=WAIT_MS)
    qtbot.wait(10)  # the deferred geocoder check after the first paint
    assert not page.locate_button.isVisible()
    dialog = window.open_geocoder_settings()
    _fill(dialog, "acme-fieldrep (it@acme.com)")
    with qtbot.waitSignal(dialog.settings_saved):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert page.locate_button.isVisible()
    assert page.locate_button.isEnabled()
    dialog.enabled_check.setChecked(False)
    with qtbot.waitSignal(dialog.settings_saved):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert not page.locate_button.isVisible()
