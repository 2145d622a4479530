"""Balancing proposals on a real database: diff, figures, accept writes moves and boundaries."""

from __future__ import annotations

import numpy as np

from fieldrep.services.context import Context
from fieldrep.services.territories import assignment as assign
from fieldrep.services.territories import balancing
from fieldrep.services.territories import service as territory_service
from tests.services.helpers_territories import square


def test_propose_accept_then_assign_agrees(ctx: Context) -> None:
    west = territory_service.create_territory(ctx, "West", geometry=square(-80, 40, -79, 41))
    east = territory_service.create_territory(ctx, "East", geometry=square(-79, 40, -78, 41))
    rng = np.random.default_rng(2)
    rows = []
    for i in range(240):  # 3:1 imbalance, all inside the two squares
        lon = rng.uniform(-79.95, -79.05) if i % 4 else rng.uniform(-78.95, -78.05)
        rows.append({"name": f"A{i}", "lat": float(rng.uniform(40.05, 40.95)), "lon": float(lon)})
    rows[0]["locked"] = 1
    ctx.writer.insert_many("accounts", rows)
    assign.assign_all(ctx, dry_run=False)
    proposal = balancing.propose(ctx, "accounts", tolerance=0.1)
    assert proposal.ratio_before > 2.5
    assert proposal.ratio_after <= 1.1
    by_name = {r.name: r for r in proposal.rows}
    assert by_name["West"].accounts_before == 180
    assert abs(by_name["West"].accounts_after - 120) <= 6
    assert all(m.from_territory_id == west and m.to_territory_id == east for m in proposal.moves)
    assert all(
        m.reason.startswith("balancing proposal (accounts): max/min workload")
        for m in proposal.moves
    )
    assert set(proposal.boundaries) == {west, east}
    locked_id = ctx.db.execute("SELECT id FROM accounts WHERE locked = 1").fetchone()[0]
    assert locked_id not in {m.account_id for m in proposal.moves}
    moved = balancing.accept(ctx, proposal)
    assert moved == len(proposal.moves)
    assert assign.assign_all(ctx, dry_run=True).moves == []
    history = ctx.db.execute(
        "SELECT count(*) FROM assignment_history WHERE reason LIKE 'balancing proposal%'"
    ).fetchone()[0]
    assert history == moved
