"""Roles in the app: a rep is not invited to use a manager's tools, and the role follows sign-in."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.services.territories import service as territory_service
from fieldrep.store import local_meta
from fieldrep.ui.main_window import MainWindow
from fieldrep.ui.sync_controller import SyncController
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.territories_view import TerritoriesView
from tests.ui.sync_support import Live, sign_in

MANAGER_TOOLS = ("New…", "Edit…", "▲ Up", "Archive / Restore", "Import GeoJSON/KML…", "Hand over…")


def _tools(view: TerritoriesView) -> list[object]:
    buttons = view.definitions.buttons
    return [
        *(buttons[text] for text in MANAGER_TOOLS),
        buttons["Add / update member"],
        view.kpis.quota_button,
        view.balancing.propose_button,
    ]


def _as(ctx: Context, role: str, *, signed_in: bool = True) -> str:
    user = ctx.writer.insert(
        "users", {"username": role, "display_name": f"Pat {role}", "role": role}
    )
    ctx.set_user(user)
    if signed_in:
        with ctx.writer.transaction() as conn:
            local_meta.put(conn, "device_token", "token")
    return user


@pytest.fixture
def page(ctx: Context, runner: TaskRunner, qtbot: QtBot) -> Callable[[], TerritoriesView]:
    def make() -> TerritoriesView:
        territory_service.create_territory(ctx, "North")
        view = TerritoriesView(ctx, runner)
        qtbot.addWidget(view)
        view.show()
        qtbot.waitExposed(view)
        return view

    return make


def test_a_rep_sees_the_manager_tools_disabled_and_told_why(
    ctx: Context, page: Callable[[], TerritoriesView]
) -> None:
    _as(ctx, "rep")
    view = page()
    for tool in _tools(view):
        assert not tool.isEnabled(), tool.text()
        assert "Only a manager" in tool.toolTip(), tool.text()
        assert "signed in as a rep" in tool.toolTip()
    assert view.definitions.buttons["Export GeoJSON…"].isEnabled()  # reading is anyone's
    assert view.role_note.isVisible()
    assert "read-only" in view.role_note.text()


def test_a_manager_has_every_tool(ctx: Context, page: Callable[[], TerritoriesView]) -> None:
    _as(ctx, "manager")
    view = page()
    for tool in _tools(view):
        assert tool.isEnabled(), tool.text()
        assert "Only a manager" not in tool.toolTip()
    assert view.definitions.buttons["New…"].toolTip() == "Define a territory or region"
    assert not view.role_note.isVisible()


def test_a_local_book_nobody_signed_in_to_has_every_tool(
    ctx: Context, page: Callable[[], TerritoriesView]
) -> None:
    view = page()
    assert all(tool.isEnabled() for tool in _tools(view))


def test_the_tools_follow_the_role_without_a_restart(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, page: Callable[[], TerritoriesView]
) -> None:
    _as(ctx, "rep")
    view = page()
    assert not view.definitions.buttons["New…"].isEnabled()
    manager = ctx.writer.insert("users", {"username": "mona", "role": "manager"})
    ctx.set_user(manager)  # another user signs in on this laptop
    qtbot.waitUntil(lambda: view.definitions.buttons["New…"].isEnabled(), timeout=5_000)
    assert view.definitions.buttons["New…"].toolTip() == "Define a territory or region"
    assert not view.role_note.isVisible()


def test_signing_in_as_a_rep_then_as_a_manager_against_the_server(
    qtbot: QtBot,
    live: Live,
    make_sync: Callable[..., SyncController],
    window_with_sync: Callable[..., MainWindow],
) -> None:
    controller = make_sync()
    window = window_with_sync(controller)
    window.show_page("territories")
    view = window.page("territories")
    assert isinstance(view, TerritoriesView)
    new = view.definitions.buttons["New…"]
    assert new.isEnabled()  # nobody signed in yet: a local book
    assert view.definitions.names() == []

    sign_in(qtbot, controller, live, "rep1")
    qtbot.waitUntil(lambda: "signed in as a rep" in new.toolTip(), timeout=10_000)
    assert not new.isEnabled()
    # what sync brought shows without a restart
    assert sorted(view.definitions.names()) == ["East", "North", "South"]

    with qtbot.waitSignal(controller.signed_out, timeout=30_000):
        controller.sign_out()
    sign_in(qtbot, controller, live, "manager")
    qtbot.waitUntil(lambda: new.isEnabled(), timeout=10_000)
    assert sorted(view.definitions.names()) == ["East", "North", "South"]
