"""The territory dialog edits the team's referral SLA (issue 18): first contact within N days on a
territory or region, a synced change (queued for the server), followed by every territory below
that sets none; 'as the parent' clears the territory's own value."""

from __future__ import annotations

import json

from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.services.referrals import sla
from fieldrep.services.referrals.model import Stage
from fieldrep.services.territories import service as territory_service
from fieldrep.ui.dialogs.territory_edit_dialog import TerritoryEditDialog
from fieldrep.ui.tasks import TaskRunner


def _edit(
    ctx: Context, qtbot: QtBot, runner: TaskRunner, territory_id: str, days: float
) -> TerritoryEditDialog:
    dialog = TerritoryEditDialog(ctx, runner, territory_id)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.first_contact.setValue(days)
    dialog.save()
    runner.wait_for_idle()
    assert dialog.result() == TerritoryEditDialog.DialogCode.Accepted, dialog.error.text()
    return dialog


def test_the_territory_dialog_sets_the_teams_first_contact_sla(
    ctx: Context, qtbot: QtBot, runner: TaskRunner
) -> None:
    boss = ctx.writer.insert("users", {"username": "mia", "display_name": "Mia", "role": "manager"})
    ctx.set_user(boss)
    region = territory_service.create_territory(ctx, "Northeast", kind="region", owner_id=boss)
    west = territory_service.create_territory(ctx, "West", postal_codes="02139", parent_id=region)
    default = sla.DEFAULT_DAYS[Stage.NEW]
    assert sla.days_for(ctx.conn, Stage.NEW, west) == default

    _edit(ctx, qtbot, runner, region, 3)  # the region's value: the default of every territory below
    assert sla.days_for(ctx.conn, Stage.NEW, west) == 3
    _edit(ctx, qtbot, runner, west, 1.5)
    assert sla.days_for(ctx.conn, Stage.NEW, west) == 1.5
    queued = [
        json.loads(r[0])
        for r in ctx.conn.execute(
            "SELECT fields FROM outbox WHERE tbl = 'territories' AND row_id = ?", (west,)
        )
    ]
    assert any(f.get("referral_sla") == '{"new": 1.5}' for f in queued)  # synced

    reopened = TerritoryEditDialog(ctx, runner, west)
    qtbot.addWidget(reopened)
    assert reopened.first_contact.value() == 1.5
    _edit(ctx, qtbot, runner, west, 0)  # "as the parent territory": the region's again
    assert sla.own_days(ctx.conn, west) == {}
    assert sla.days_for(ctx.conn, Stage.NEW, west) == 3
