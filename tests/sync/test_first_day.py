"""A real team's first day through the real server (issue 12's "Done when"), on SQLite and
PostgreSQL: server users; the manager signs in on a new laptop, imports 300 accounts and 4
territories (owners and members named in the file), assigns and syncs; the reps sign in and
receive exactly their territories' accounts; a second sync moves nothing; an account a rep creates
in a colleague's territory reaches the colleague and stays in its creator's view."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from fieldrep.cli import main
from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.services.accounts.service import AccountsService
from fieldrep.store import local_meta
from fieldrep.sync.client import DEMO_KEPT_KEY, SyncResult
from tests.sync.harness import (
    PASSWORD,
    Laptop,
    LiveServer,
    Org,
    account,
    password_hash,
    server_view,
)

Make = Callable[[str], Laptop]

TERRITORIES = {
    # name: (postal codes, city, state, owner, members)
    "North": (["02139", "02140", "02141"], "Cambridge", "MA", "rita", ["rita"]),
    "South": (["30301", "30303", "30305"], "Atlanta", "GA", "sam", ["sam"]),
    "West": (["94103", "94107", "94110"], "San Francisco", "CA", None, []),
    "Texas Metros": (["75201", "75202", "75204"], "Dallas", "TX", "mona", ["mona"]),
}
ACCOUNTS = 300


def _files(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """The manager's CSV of accounts and GeoJSON of territories; account name -> territory."""
    names = list(TERRITORIES)
    where: dict[str, str] = {}
    accounts = tmp_path / "accounts.csv"
    with accounts.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Name", "City", "State", "Zip", "Industry"])
        for i in range(ACCOUNTS):
            territory = names[i % len(names)]
            zips, city, state, _, _ = TERRITORIES[territory]
            out.writerow([f"Company {i:03d}", city, state, zips[i % 3], "Retail"])
            where[f"Company {i:03d}"] = territory
    features = []
    for name, (zips, _, _, owner, members) in TERRITORIES.items():
        props: dict[str, object] = {"name": name, "postal_codes": zips, "members": members}
        if owner:
            props["owner"] = owner
        features.append({"type": "Feature", "geometry": None, "properties": props})
    geojson = tmp_path / "territories.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return accounts, geojson, where


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _moved_nothing(result: SyncResult) -> bool:
    return (
        result.pushed,
        result.rejected,
        result.pulled,
        result.deleted,
        result.evicted,
        result.removed,
    ) == (0, 0, 0, 0, 0, 0)


def test_a_managers_first_day(
    storage: Storage,
    server: LiveServer,
    laptop: Make,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    h = password_hash()
    mona = admin.add_user(storage, "mona", "manager", PASSWORD, password_hash=h)
    rita = admin.add_user(storage, "rita", "rep", PASSWORD, password_hash=h, manager_id=mona)
    sam = admin.add_user(storage, "sam", "rep", PASSWORD, password_hash=h, manager_id=mona)
    accounts_csv, territories_json, where = _files(tmp_path)

    boss = laptop("mona")
    boss.login("mona")
    boss.sync()  # the team's users arrive: the GeoJSON names them
    db = str(tmp_path / "mona.db")
    out = _cli(capsys, "import", "accounts", str(accounts_csv), "--db", db)
    assert f"{ACCOUNTS} accounts match no territory: kept as yours" in out
    _cli(capsys, "territories", "import", str(territories_json), "--db", db)
    out = _cli(capsys, "assign", "--db", db)
    assert "applied." in out

    first = boss.sync()
    assert first.rejected == 0, first.refusals
    assert first.verified is True
    mine = boss.rows("accounts")
    assert len(mine) == ACCOUNTS
    assert len(server_view(storage, mona, "accounts")) == ACCOUNTS
    names = {t["name"]: tid for tid, t in boss.rows("territories").items()}
    assert {names[where[a["name"]]] for a in mine.values()} == set(names.values())
    assert all(names[where[a["name"]]] == a["territory_id"] for a in mine.values())
    # The territory imported without an owner belongs to the manager's team.
    assert boss.rows("territories")[names["West"]]["owner_id"] == mona

    reps = {}
    for user, territory in (("rita", "North"), ("sam", "South")):
        lap = laptop(user)
        lap.login(user)
        pages: list[frozenset[str]] = []
        result = lap.sync(on_changes=pages.append)
        assert result.verified is True
        # Each applied page says which tables it changed, for the app's change notification.
        assert pages
        assert {"accounts", "territories", "users"} <= set().union(*pages)
        assert set(result.changed_tables) == set().union(*pages)
        got = {a["name"] for a in lap.rows("accounts").values()}
        assert got == {n for n, t in where.items() if t == territory}
        reps[user] = lap

    for lap in (boss, *reps.values()):
        again = lap.sync()
        assert _moved_nothing(again), again

    # rita creates an account in sam's territory (the account dialog's service): accepted,
    # routed to sam, and rita keeps it in view, read-only.
    service = AccountsService(reps["rita"].ctx)
    found = service.create(
        {"name": "Peachtree Supply", "city": "Atlanta", "region": "GA", "postal_code": "30303"}
    )
    assert service.last_note == "Handed to sam, South"
    pushed = reps["rita"].sync()
    assert pushed.rejected == 0
    assert pushed.pushed == 3  # the account, its assignment, the assignment's history row
    assert found in reps["rita"].rows("accounts")
    assert reps["sam"].sync().pulled >= 1
    handed = reps["sam"].rows("accounts")[found]
    assert (handed["owner_id"], handed["territory_id"]) == (sam, names["South"])
    assert found in server_view(storage, rita, "accounts")  # its creator still sees it
    boss.sync()
    assert found in boss.rows("accounts")


def test_signing_in_from_the_demo_database_starts_the_team_database(
    storage: Storage, org: Org, tmp_path: Path, server: LiveServer
) -> None:
    """Demo rows never leave the laptop: the demo is copied aside, the database starts empty as
    the user's own, the user is told, and the first sync sends nothing of the demo."""
    from fieldrep.services.context import Context
    from fieldrep.services.demo.build import DemoOptions, build_demo

    path = tmp_path / "fieldrep.db"
    ctx = Context.open(path)
    build_demo(ctx, DemoOptions(accounts=200, seed=3))
    demo_accounts = ctx.conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
    assert ctx.writer.pending_count() > 1000
    ctx.close()

    lap = Laptop(path, server.url)
    try:
        lap.login("manager")
        kept = local_meta.get(lap.ctx.db.conn, DEMO_KEPT_KEY)
        assert kept == str(tmp_path / "fieldrep.demo.db")
        assert lap.writer.pending_count() == 0
        assert lap.rows("accounts") == {}
        # The user writes something of their own; only that is sent.
        own = lap.writer.insert("accounts", account(org.t1, "Mine, not the demo's"))
        result = lap.sync()
        assert (result.pushed, result.rejected) == (1, 0)
        assert result.verified is True
        assert set(server_view(storage, org.manager, "accounts")) == {own}
    finally:
        lap.close()
    copy = Context.open(Path(kept))
    try:
        assert copy.conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == demo_accounts
    finally:
        copy.close()
