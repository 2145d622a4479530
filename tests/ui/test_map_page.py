"""The Map page driven like a person would: wheel, drag, click, rectangle, lasso, polygon drawing,
pin moving, nearby and the day's route with check-in, on a real database, offscreen."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from fieldrep.geo.projection import lonlat_to_world
from fieldrep.geo.tiles import MBTiles
from fieldrep.services.context import Context
from fieldrep.services.map import route_planning
from fieldrep.services.territories import assignment as assignment_service
from fieldrep.services.territories import service as territories
from fieldrep.ui.map.map_page import MapPage
from fieldrep.ui.tasks import Task, TaskRunner
from tests.geo.tile_fixtures import make_mbtiles, png, tile_server

# A 5 x 4 grid of accounts around Manhattan, 0.02 degrees apart (~1.7-2.2 km).
GRID = [(-74.04 + 0.02 * i, 40.70 + 0.02 * j) for j in range(4) for i in range(5)]


@pytest.fixture
def book(ctx: Context) -> dict[str, str]:
    rep = ctx.writer.insert(
        "users", {"username": "jordan", "display_name": "Jordan Reyes", "role": "manager"}
    )
    ctx.set_user(rep)
    territories.create_territory(
        ctx,
        "Downtown",
        color="#2ca02c",
        geometry={
            "type": "Polygon",
            "coordinates": [
                [[-74.1, 40.65], [-73.9, 40.65], [-73.9, 40.73], [-74.1, 40.73], [-74.1, 40.65]]
            ],
        },
    )
    ids = {}
    for k, (lon, lat) in enumerate(GRID):
        ids[f"a{k}"] = ctx.writer.insert(
            "accounts",
            {
                "name": f"Shop {k:02d}",
                "lat": lat,
                "lon": lon,
                "city": "New York",
                "status": "active",
            },
        )
    ids["nowhere"] = ctx.writer.insert("accounts", {"name": "Unplaced Ltd", "city": "Atlantis"})
    assignment_service.assign_all(ctx, dry_run=False)
    ids["rep"] = rep
    return ids


@pytest.fixture
def page(qtbot: QtBot, ctx: Context, runner: TaskRunner, book: dict[str, str]) -> MapPage:
    view = MapPage(ctx, runner)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.bundle is not None, timeout=20_000)
    qtbot.waitUntil(view.canvas.scene_ready, timeout=20_000)
    return view


def screen_of(page: MapPage, lon: float, lat: float) -> QPoint:
    x, y = page.canvas.screen_of(*lonlat_to_world(lon, lat))
    return QPoint(round(x), round(y))


def drag(
    qtbot: QtBot,
    widget: object,
    points: list[QPoint],
    modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, modifier, points[0])
    for p in points[1:]:
        qtbot.mouseMove(widget, p)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, modifier, points[-1])


def wheel(widget: object, pos: QPoint, notches: int) -> None:
    event = QWheelEvent(
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),  # type: ignore[attr-defined]
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def selected_names(page: MapPage) -> set[str]:
    assert page.bundle is not None
    return {page.bundle.accounts.names[i] for i in page.canvas.selection.tolist()}


def test_the_page_shows_every_placed_account_and_lists_the_unplaced(page: MapPage) -> None:
    assert page.bundle is not None
    assert len(page.bundle.accounts) == 20
    assert page.legend.unplaced.count() == 1
    assert page.legend.unplaced.item(0).text().startswith("Unplaced Ltd")
    assert "1 account not on the map" in page.legend.unplaced_label.text()
    legend = [page.legend.legend.item(i).text() for i in range(page.legend.legend.count())]
    assert any(t.startswith("Downtown") for t in legend)
    # Every account is in view after the first fit.
    for lon, lat in GRID:
        assert page.canvas.rect().contains(screen_of(page, lon, lat))


def test_wheel_zooms_around_the_cursor(page: MapPage) -> None:
    canvas = page.canvas
    anchor = screen_of(page, *GRID[7])
    before = canvas.zoom
    wheel(canvas, anchor, 2)
    assert canvas.zoom == pytest.approx(before + 1.0)
    after = screen_of(page, *GRID[7])
    assert abs(after.x() - anchor.x()) <= 1
    assert abs(after.y() - anchor.y()) <= 1
    wheel(canvas, anchor, -4)
    assert canvas.zoom == pytest.approx(before - 1.0)


def test_drag_pans_by_the_mouse_movement_and_keys_pan_and_zoom(qtbot: QtBot, page: MapPage) -> None:
    canvas = page.canvas
    start = screen_of(page, *GRID[0])
    drag(qtbot, canvas, [QPoint(500, 400), QPoint(540, 420), QPoint(600, 450)])
    moved = screen_of(page, *GRID[0])
    assert (moved.x() - start.x(), moved.y() - start.y()) == (100, 50)
    qtbot.waitUntil(canvas.scene_ready)
    zoom = canvas.zoom
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Plus)
    assert canvas.zoom == pytest.approx(zoom + 1)
    before = screen_of(page, *GRID[0])
    qtbot.keyClick(canvas, Qt.Key.Key_Left)
    assert screen_of(page, *GRID[0]).x() - before.x() == pytest.approx(canvas.width() * 0.25, abs=1)
    canvas.zoom_out_button.click()
    assert canvas.zoom == pytest.approx(zoom)


def test_clicking_a_marker_asks_to_open_that_account(
    qtbot: QtBot, page: MapPage, book: dict[str, str]
) -> None:
    with qtbot.waitSignal(page.account_open_requested) as opened:
        qtbot.mouseClick(
            page.canvas, Qt.MouseButton.LeftButton, pos=screen_of(page, *GRID[12]) + QPoint(2, 1)
        )
    assert opened.args == [book["a12"]]
    assert page.current_account_id() == book["a12"]
    tip = page.canvas.tooltip_text(page.canvas.current)  # type: ignore[arg-type]
    assert tip.startswith("Shop 12\nNew York")


def test_rectangle_selects_what_it_covers_and_shift_adds(qtbot: QtBot, page: MapPage) -> None:
    page.set_tool("rect")
    # Columns 0-1 of rows 0-1: Shop 00, 01, 05, 06.
    top_left = screen_of(page, -74.05, 40.73)
    bottom_right = screen_of(page, -74.01, 40.69)
    drag(qtbot, page.canvas, [top_left, (top_left + bottom_right) / 2, bottom_right])
    assert selected_names(page) == {"Shop 00", "Shop 01", "Shop 05", "Shop 06"}
    assert page.selection_panel.count_label.text() == "4 accounts selected"
    corner = screen_of(page, 0.02 * 4 - 74.04, 40.76)
    drag(
        qtbot,
        page.canvas,
        [corner - QPoint(8, 8), corner + QPoint(8, 8)],
        Qt.KeyboardModifier.ShiftModifier,
    )
    assert selected_names(page) == {"Shop 00", "Shop 01", "Shop 05", "Shop 06", "Shop 19"}


def test_lasso_selects_inside_the_drawn_shape(qtbot: QtBot, page: MapPage) -> None:
    page.set_tool("lasso")
    # A triangle around Shop 00, 01, 02 and 05 (the bottom-left corner of the grid).
    points = [
        screen_of(page, -74.05, 40.69),
        screen_of(page, -73.98, 40.69),
        screen_of(page, -74.05, 40.735),
        screen_of(page, -74.05, 40.69),
    ]
    drag(qtbot, page.canvas, points)
    assert selected_names(page) == {"Shop 00", "Shop 01", "Shop 02", "Shop 05"}


def test_nearby_lists_accounts_nearest_first_with_filters(qtbot: QtBot, page: MapPage) -> None:
    page.set_tool("pick")
    page.nearby_panel.radius.setValue(2.5)
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=screen_of(page, *GRID[7]))
    rows = [page.nearby_panel.list.item(i).text() for i in range(page.nearby_panel.list.count())]
    assert rows[0].startswith("0.0 km  Shop 07")
    assert {r.split("  ")[1].split(" —")[0] for r in rows} == {
        "Shop 07",
        "Shop 02",
        "Shop 06",
        "Shop 08",
        "Shop 12",
    }
    page.nearby_panel.status.setCurrentIndex(page.nearby_panel.status.findData("lost"))
    assert page.nearby_panel.list.count() == 0


def test_drawn_polygon_shows_the_engines_diff_then_saves(
    qtbot: QtBot, page: MapPage, ctx: Context
) -> None:
    page.set_tool("draw")
    corners = [(-74.05, 40.75), (-73.95, 40.75), (-73.95, 40.77), (-74.05, 40.77)]
    for lon, lat in corners:
        qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=screen_of(page, lon, lat))
    assert len(page.canvas.drawing) == 4
    qtbot.keyClick(page.canvas, Qt.Key.Key_Return)
    dialog = page.territory_dialog
    assert dialog is not None
    assert not dialog.save_button.isEnabled()  # nothing is saved before the diff is seen
    dialog.name.setText("Uptown")
    with qtbot.waitSignal(dialog.previewed, timeout=20_000) as previewed:
        dialog.preview_button.click()
    moved = {m.account_name for m in previewed.args[0].moves}
    assert moved == {"Shop 15", "Shop 16", "Shop 17", "Shop 18", "Shop 19"}
    assert "5 of 21 accounts would move" in dialog.diff_text.toPlainText()
    assert (
        ctx.conn.execute("SELECT count(*) FROM territories WHERE name = 'Uptown'").fetchone()[0]
        == 0
    )
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        dialog.save_button.click()
    row = ctx.conn.execute("SELECT id, geometry FROM territories WHERE name = 'Uptown'").fetchone()
    assert json.loads(row[1])["type"] == "MultiPolygon"
    owners = ctx.conn.execute(
        "SELECT name FROM accounts WHERE territory_id = ? ORDER BY name", (row[0],)
    ).fetchall()
    assert [r[0] for r in owners] == ["Shop 15", "Shop 16", "Shop 17", "Shop 18", "Shop 19"]
    assert "Uptown" in [t.name for t in page.canvas.territories]


def test_a_two_point_outline_is_refused_with_a_reason(qtbot: QtBot, page: MapPage) -> None:
    page.set_tool("draw")
    for lon, lat in [(-74.05, 40.75), (-73.95, 40.75)]:
        qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=screen_of(page, lon, lat))
    qtbot.keyClick(page.canvas, Qt.Key.Key_Return)
    assert page.territory_dialog is None
    assert "at least three corners" in page.message.text()


def test_dragging_a_pin_saves_a_manual_location(
    qtbot: QtBot, page: MapPage, ctx: Context, book: dict[str, str]
) -> None:
    page.show_account(book["a6"])
    qtbot.waitUntil(page.canvas.scene_ready)
    page.set_tool("move_pin")
    start = screen_of(page, *GRID[6])
    end = start + QPoint(40, 30)
    target_lon, target_lat = page.canvas.lonlat_at(QPointF(end))
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        drag(qtbot, page.canvas, [start, start + QPoint(20, 15), end])
    lat, lon, quality = ctx.conn.execute(
        "SELECT lat, lon, geocode_quality FROM accounts WHERE id = ?", (book["a6"],)
    ).fetchone()
    assert (lat, lon) == pytest.approx((target_lat, target_lon))
    assert quality == "manual"


def test_route_from_a_selection_is_optimised_checked_in_and_capped(
    qtbot: QtBot, page: MapPage, ctx: Context, book: dict[str, str]
) -> None:
    page.route_panel.start.setCurrentIndex(page.route_panel.start.findData("first"))
    ids = [book[f"a{k}"] for k in (4, 0, 2, 1, 3)] + [book["nowhere"]]
    with qtbot.waitSignal(page.route_planned, timeout=20_000) as planned:
        page.add_to_route(ids)
    plan = planned.args[0]
    # The day starts at the first stop picked (Shop 04) and sweeps along the row.
    assert [s.name for s in plan.stops] == ["Shop 04", "Shop 03", "Shop 02", "Shop 01", "Shop 00"]
    assert plan.skipped == [(book["nowhere"], "Unplaced Ltd")]
    assert "Unplaced Ltd" in page.route_panel.summary.text()
    assert len(page.canvas.route) == 5
    # The day's stops are saved (a user write on the write lane) for the next start.
    qtbot.waitUntil(lambda: route_planning.load_stops(ctx.conn) == ids)
    page.route_panel.stops.setCurrentRow(0)
    page.route_panel.check_in_button.click()
    dialog = page.visit_dialog
    assert dialog is not None
    dialog.notes.setPlainText("Met the owner")
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        dialog.log_button.click()
    visit = ctx.conn.execute("SELECT account_id, outcome, notes, user_id FROM visits").fetchall()
    assert visit == [(plan.stops[0].account_id, "met", "Met the owner", book["rep"])]
    assert page.route_panel.stops.item(0).text().startswith("✓ 1.")
    page.add_to_route([f"x{i}" for i in range(100)])
    assert "at most 100 stops" in page.message.text()
    assert len(page.route_ids) == 6


def test_editing_an_outline_moves_corners_and_shows_who_leaves(
    qtbot: QtBot, page: MapPage, ctx: Context
) -> None:
    downtown = next(t for t in page.canvas.territories if t.name == "Downtown")
    page.canvas.fit_world_box(downtown.bbox)
    assert page.edit_outline(downtown.id)
    assert len(page.canvas.drawing) == 4
    # Pull the two northern corners (40.73) down to 40.71: the row of shops at 40.72 falls outside.
    for lon in (-73.9, -74.1):
        corner = screen_of(page, lon, 40.73)
        drag(qtbot, page.canvas, [corner, corner + QPoint(0, 10), screen_of(page, lon, 40.71)])
    # A click on the southern edge adds a corner there (and changes nothing else).
    qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=screen_of(page, -74.0, 40.65))
    assert len(page.canvas.drawing) == 5
    qtbot.keyClick(page.canvas, Qt.Key.Key_Return)
    dialog = page.territory_dialog
    assert dialog.target.currentData() == downtown.id
    with qtbot.waitSignal(dialog.previewed, timeout=20_000) as previewed:
        dialog.preview_button.click()
    moves = previewed.args[0].moves
    assert {m.account_name for m in moves} == {
        "Shop 05",
        "Shop 06",
        "Shop 07",
        "Shop 08",
        "Shop 09",
    }
    assert {(m.from_territory, m.to_territory) for m in moves} == {("Downtown", "(none)")}
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        dialog.save_button.click()
    geometry = json.loads(
        ctx.conn.execute(
            "SELECT geometry FROM territories WHERE id = ?", (downtown.id,)
        ).fetchone()[0]
    )
    lats = [round(lat, 3) for _lon, lat in geometry["coordinates"][0][0]]
    assert max(lats) == pytest.approx(40.71, abs=0.002)


def _pixel_is_tile(page: MapPage, color: tuple[int, int, int]) -> bool:
    image = page.canvas.grab().toImage()
    # A corner of the view away from the accounts, the buttons and the scale bar.
    pixel = image.pixelColor(image.width() - 30, 80)
    return all(
        abs(a - b) < 40
        for a, b in zip((pixel.red(), pixel.green(), pixel.blue()), color, strict=True)
    )


def test_an_offline_mbtiles_map_is_drawn_under_the_accounts(
    qtbot: QtBot, page: MapPage, tmp_path: Path
) -> None:
    tiles = {(3, x, y): png((200, 30, 30)) for x in range(8) for y in range(8)}
    path = make_mbtiles(tmp_path / "region.mbtiles", tiles)
    assert page.open_offline_map(path)
    qtbot.waitUntil(page.canvas.scene_ready, timeout=20_000)
    assert _pixel_is_tile(page, (200, 30, 30))
    assert page.canvas.attribution == "Test tiles"
    bad = tmp_path / "notes.mbtiles"
    bad.write_text("not a map")
    assert not page.open_offline_map(bad)
    assert "not an SQLite database" in page.message.text()
    page.clear_tiles()
    qtbot.waitUntil(page.canvas.scene_ready, timeout=20_000)
    assert not _pixel_is_tile(page, (200, 30, 30))


def test_a_tile_server_fills_the_cache_and_its_failures_are_said(
    qtbot: QtBot, page: MapPage, tmp_path: Path
) -> None:
    cache = tmp_path / "cache.mbtiles"
    with tile_server(png((30, 30, 200))) as server:
        assert page.use_tile_server(
            server.base + "/{z}/{x}/{y}.png", "FieldRep-test (qa@example.test)", cache
        )
        qtbot.waitUntil(page.canvas.scene_ready, timeout=20_000)
        assert server.requests
        assert {ua for _p, ua in server.requests} == {"FieldRep-test (qa@example.test)"}
        assert _pixel_is_tile(page, (30, 30, 200))
        page.clear_tiles()
        assert page.use_tile_server(
            server.base + "/broken/{z}/{x}/{y}.png", "FieldRep-test", tmp_path / "c2.mbtiles"
        )
        qtbot.waitUntil(lambda: "Some map tiles are missing" in page.message.text(), timeout=20_000)
        assert "HTTP 500" in page.message.text()
        page.clear_tiles()
    stored = sqlite3.connect(cache).execute("SELECT count(*) FROM tiles").fetchone()[0]
    good = {p for p, _ua in server.requests if not p.startswith("/broken")}
    assert stored == len(good)
    # After the first failure the broken server is left alone instead of asked for every tile.
    assert len([p for p, _ua in server.requests if p.startswith("/broken")]) == 1
    assert not page.use_tile_server(
        "https://tiles.example.org/tile.png", "x", tmp_path / "c3.mbtiles"
    )
    assert "needs {z}, {x} and {y}" in page.message.text()


def test_split_along_a_drawn_line_then_merge_back(
    qtbot: QtBot, page: MapPage, ctx: Context
) -> None:
    downtown = next(t for t in page.canvas.territories if t.name == "Downtown")
    page.canvas.fit_world_box(downtown.bbox)
    page.start_split(downtown.id)
    # A north-south cut at lon -73.99: the larger western part stays Downtown, and the shops at
    # -73.98 and -73.96 leave for the new, eastern part.
    for lat in (40.60, 40.78):
        qtbot.mouseClick(page.canvas, Qt.MouseButton.LeftButton, pos=screen_of(page, -73.99, lat))
    qtbot.keyClick(page.canvas, Qt.Key.Key_Return)
    dialog = page.territory_dialog
    assert dialog.name.text() == "Downtown 2"
    dialog.name.setText("Downtown East")
    with qtbot.waitSignal(dialog.previewed, timeout=20_000) as previewed:
        dialog.preview_button.click()
    moved = {(m.account_name, m.to_territory) for m in previewed.args[0].moves}
    assert moved == {(f"Shop {k:02d}", "Downtown East") for k in (3, 4, 8, 9)}
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        dialog.save_button.click()
    east = ctx.conn.execute("SELECT id FROM territories WHERE name = 'Downtown East'").fetchone()[0]
    assert (
        ctx.conn.execute(
            "SELECT count(*) FROM accounts WHERE territory_id = ?", (east,)
        ).fetchone()[0]
        == 4
    )

    dialog = page.merge_territories(downtown.id, east)
    with qtbot.waitSignal(dialog.previewed, timeout=20_000) as previewed:
        dialog.preview_button.click()
    assert {m.to_territory for m in previewed.args[0].moves} == {"Downtown"}
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        dialog.save_button.click()
    assert ctx.conn.execute(
        "SELECT archived FROM territories WHERE id = ?", (east,)
    ).fetchone() == (1,)
    assert (
        ctx.conn.execute(
            "SELECT count(*) FROM accounts WHERE territory_id = ?", (downtown.id,)
        ).fetchone()[0]
        == 10
    )


def test_a_line_that_misses_the_territory_is_explained(qtbot: QtBot, page: MapPage) -> None:
    downtown = next(t for t in page.canvas.territories if t.name == "Downtown")
    page.start_split(downtown.id)
    page.split_territory(downtown.id, [(-72.0, 40.0), (-72.0, 41.0)])
    assert "does not cross the territory" in page.message.text()


def test_the_page_says_it_is_loading_until_the_accounts_arrive(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, book: dict[str, str]
) -> None:
    view = MapPage(ctx, runner)
    qtbot.addWidget(view)
    view.show()
    assert view.canvas.busy_label.isVisible()
    assert view.canvas.busy_label.text() == "Loading accounts…"
    qtbot.waitUntil(lambda: view.bundle is not None, timeout=20_000)
    qtbot.waitUntil(lambda: not view.canvas.busy_label.isVisible(), timeout=20_000)
    assert (
        view.message.text() == "20 accounts on the map, 1 without a location (listed under Legend)."
    )


def test_a_day_planned_by_time_shows_times_and_what_does_not_fit(
    qtbot: QtBot, page: MapPage, book: dict[str, str]
) -> None:
    from PySide6.QtCore import QTime

    panel = page.route_panel
    panel.start.setCurrentIndex(panel.start.findData("first"))
    panel.day_start.setTime(QTime(9, 0))
    panel.day_end.setTime(QTime(10, 0))
    panel.visit_minutes.setValue(20)
    panel.timed.setChecked(True)
    ids = [book[f"a{k}"] for k in range(10)]
    with qtbot.waitSignal(page.route_planned, timeout=30_000) as planned:
        page.add_to_route(ids)
    plan = planned.args[0]
    # One hour holds three 20-minute visits at most (driving takes a few minutes between shops).
    assert 1 <= len(plan.stops) <= 3
    assert len(plan.stops) + len(plan.unfit) == 10
    rows = [panel.stops.item(i).text() for i in range(panel.stops.count())]
    assert rows[0].startswith("1. 09:")
    assert sum("does not fit in the day" in r for r in rows) == len(plan.unfit)
    assert "Do not fit before the end of the day" in panel.summary.text()


def test_exports_from_the_page_and_a_bulk_assignment(
    qtbot: QtBot, page: MapPage, ctx: Context, tmp_path: Path, book: dict[str, str]
) -> None:
    page.export_view(tmp_path / "view.png")
    page.export_view(tmp_path / "view.pdf")
    assert (tmp_path / "view.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "view.pdf").read_bytes().startswith(b"%PDF")
    page.export_view(tmp_path / "view.gif")
    assert "as .png or .pdf" in page.message.text()

    page.set_tool("rect")
    top_left, bottom_right = screen_of(page, -74.05, 40.77), screen_of(page, -74.01, 40.75)
    drag(qtbot, page.canvas, [top_left, bottom_right])
    assert selected_names(page) == {"Shop 15", "Shop 16"}
    assert page.export_selection(tmp_path / "sel.csv") == 2
    downtown = next(t for t in page.canvas.territories if t.name == "Downtown")
    page.selection_panel.territory_combo.setCurrentIndex(
        page.selection_panel.territory_combo.findData(downtown.id)
    )
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        page.selection_panel.assign_button.click()
    rows = ctx.conn.execute(
        "SELECT name, locked FROM accounts WHERE territory_id = ? AND name IN ('Shop 15', 'Shop 16')",
        (downtown.id,),
    ).fetchall()
    assert sorted(rows) == [("Shop 15", 1), ("Shop 16", 1)]
    assert "2 accounts assigned and locked" in page.message.text()

    with qtbot.waitSignal(page.route_planned, timeout=20_000):
        page.add_to_route([book["a0"], book["a1"]])
    page.export_route(tmp_path / "day.gpx", "gpx")
    assert b"<rte>" in (tmp_path / "day.gpx").read_bytes()


def test_the_route_prints_to_a_pdf_printer(
    qtbot: QtBot, page: MapPage, book: dict[str, str], tmp_path: Path
) -> None:
    from PySide6.QtPrintSupport import QPrinter

    page.route_panel.start.setCurrentIndex(page.route_panel.start.findData("first"))
    with qtbot.waitSignal(page.route_planned, timeout=20_000):
        page.add_to_route([book["a0"], book["a5"], book["a10"]])
    assert page.route_panel.print_button.isEnabled()
    printer = QPrinter(QPrinter.PrinterMode.ScreenResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "route.pdf"))
    page.print_route(printer)
    assert (tmp_path / "route.pdf").read_bytes().startswith(b"%PDF")
    assert page.message.text() == "Route sent to the printer."


def test_an_appointment_is_kept_inside_its_window(
    qtbot: QtBot, page: MapPage, book: dict[str, str]
) -> None:
    from datetime import time

    from PySide6.QtCore import QTime

    panel = page.route_panel
    panel.start.setCurrentIndex(panel.start.findData("first"))
    panel.day_start.setTime(QTime(9, 0))
    panel.day_end.setTime(QTime(13, 0))
    panel.timed.setChecked(True)
    with qtbot.waitSignal(page.route_planned, timeout=30_000):
        page.add_to_route([book["a0"], book["a4"], book["a19"]])
    panel.stops.setCurrentRow(0)
    assert panel.appointment_button.isEnabled()
    with qtbot.waitSignal(page.route_planned, timeout=30_000) as planned:
        page.set_appointment(book["a19"], (time(11, 0), time(11, 15)))
    stop = next(s for s in planned.args[0].stops if s.account_id == book["a19"])
    assert "11:00" <= stop.arrival <= "11:15"
    page.set_appointment(book["a4"], (time(12, 0), time(11, 0)))
    assert "must end after it starts" in page.message.text()


def test_a_check_in_tells_how_the_customers_referrals_went(
    page: MapPage, ctx: Context, book: dict[str, str]
) -> None:
    ctx.writer.insert(
        "referrals",
        {
            "referrer_account_id": book["a0"],
            "referred_name": "Bob Buyer",
            "referred_company": "Acme Ltd",
            "stage": "won",
        },
    )
    dialog = page.check_in(book["a0"])
    assert dialog.referral_news.isVisibleTo(dialog)
    assert dialog.referral_news.text().startswith("Your referral of Acme Ltd was won")
    other = page.check_in(book["a1"])  # no referral from this customer: nothing said
    assert not other.referral_news.isVisibleTo(other)
    dialog.close()
    other.close()


class _ThreadNotingTiles(MBTiles):
    """A real MBTiles file that notes which threads read its tiles."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.threads: set[str] = set()

    def get(self, z: int, x: int, y: int) -> bytes | None:
        main = threading.current_thread() is threading.main_thread()
        self.threads.add("gui" if main else "worker")
        return super().get(z, x, y)


def test_tiles_are_read_and_decoded_on_the_render_worker(
    qtbot: QtBot, page: MapPage, tmp_path: Path
) -> None:
    from fieldrep.ui.map.tile_layer import tile_drawer

    path = make_mbtiles(
        tmp_path / "region.mbtiles",
        {(3, x, y): png((200, 30, 30)) for x in range(8) for y in range(8)},
    )
    source = _ThreadNotingTiles(path)
    page.tile_source = source
    page.canvas.set_tiles(tile_drawer(source), "test")
    qtbot.waitUntil(page.canvas.scene_ready, timeout=20_000)
    qtbot.waitUntil(lambda: _pixel_is_tile(page, (200, 30, 30)), timeout=20_000)
    assert source.threads == {"worker"}
    page.clear_tiles()


def _done(qtbot: QtBot, task: Task) -> None:
    qtbot.waitUntil(lambda: task.state.done)


def test_the_tile_server_cache_keeps_to_its_cap(
    qtbot: QtBot, page: MapPage, tmp_path: Path
) -> None:
    from fieldrep.services.map.tile_cache import CappedTileCache, cap_mb

    _done(qtbot, page.set_tile_cache_mb(10))
    assert cap_mb(page.context.conn) == 10
    assert "at most 10 MB" in page.message.text()
    with tile_server(png((30, 30, 200))) as server:
        assert page.use_tile_server(
            server.base + "/{z}/{x}/{y}.png",
            "FieldRep-test (qa@example.test)",
            tmp_path / "c.mbtiles",
        )
        qtbot.waitUntil(page.canvas.scene_ready, timeout=20_000)
        cache = page.tile_source.cache
        assert isinstance(cache, CappedTileCache)
        assert cache.max_bytes == 10_000_000
        assert 0 < cache.total_bytes <= cache.max_bytes
        _done(qtbot, page.set_tile_cache_mb(20))
        assert cache.max_bytes == 20_000_000
        _done(qtbot, page.set_tile_cache_mb(3))
        assert "at least 10 MB" in page.message.text()
        assert cap_mb(page.context.conn) == 20
        page.clear_tiles()
