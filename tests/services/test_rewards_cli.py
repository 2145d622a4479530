"""``fieldrep rewards ...`` end to end on a database file: list, refusals with one clear sentence,
approve, issue with its CSV, redeem, and metrics as JSON equal to the service's figures."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from fieldrep.cli import main
from fieldrep.services.context import Context
from fieldrep.services.rewards import metrics
from tests.services.rewards_support import (
    YEAR,
    add_referral,
    bonus_rule,
    make_org,
    move,
    save_rule,
    sign_in,
)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_rewards_from_the_command_line(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = Context.open(db_path)
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    move(ctx, add_referral(ctx, org), "won", amount=4_000.0)
    sign_in(ctx, org.rep)
    ctx.close()
    db = ("--db", str(db_path))

    code, out, _ = _run(capsys, "rewards", "list", *db, "--json")
    assert code == 0
    (reward,) = json.loads(out)["rewards"]
    assert (reward["status"], reward["amount_cents"]) == ("awaiting_approval", 20_000)
    code, _, err = _run(capsys, "rewards", "approve", reward["id"][-8:], *db)
    assert code == 1
    assert err == "fieldrep: error: only a manager or administrator can approve rewards\n"

    ctx = Context.open(db_path)
    sign_in(ctx, org.manager)
    ctx.close()
    code, _, err = _run(capsys, "rewards", "decline", reward["id"], "--reason", " ", *db)
    assert (code, err) == (1, "fieldrep: error: say why the reward is declined\n")
    assert _run(capsys, "rewards", "approve", reward["id"][-8:], *db)[:2] == (
        0,
        "1 reward(s) approved\n",
    )
    code, _, err = _run(capsys, "rewards", "approve", reward["id"][-8:], *db)
    assert (code, err) == (1, "fieldrep: error: the reward is already approved\n")
    payout = tmp_path / "payout.csv"
    code, out, _ = _run(capsys, "rewards", "issue", "--csv", str(payout), *db, "--json")
    assert code == 0
    assert json.loads(out)["total_cents"] == 20_000
    with payout.open(newline="", encoding="utf-8") as fh:
        assert [r["amount"] for r in csv.DictReader(fh)] == ["200.00"]
    assert _run(capsys, "rewards", "redeem", reward["id"], *db)[0] == 0
    code, out, _ = _run(capsys, "rewards", "list", "--balances", *db, "--json")
    (bal,) = json.loads(out)["balances"]
    assert (bal["issued_cents"], bal["redeemed_cents"]) == (20_000, 20_000)

    year = str(date.today().year)  # the referral was created today
    code, out, _ = _run(capsys, "rewards", "metrics", "--period", year, *db, "--json")
    assert code == 0
    ctx = Context.open(db_path)
    want = metrics.compute(ctx.conn, year).to_json()
    ctx.close()
    got = json.loads(out)
    assert got["referrals"] == want["referrals"]
    assert got["reward_cost_cents"] == want["reward_cost_cents"] == 20_000
    # The same command under the referrals group (issue 19 names it ``fieldrep referrals metrics``).
    code, alias_out, _ = _run(capsys, "referrals", "metrics", "--period", year, *db, "--json")
    assert code == 0
    assert json.loads(alias_out) == got
    code, _, err = _run(capsys, "rewards", "metrics", "--period", "Q3", *db)
    assert code == 1
    assert "is not a period" in err


def test_rules_from_the_command_line(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = Context.open(db_path)
    org = make_org(ctx)
    sign_in(ctx, org.manager)
    ctx.close()
    db = ("--db", str(db_path))
    span = ("--from", f"{YEAR}-01-01", "--until", f"{YEAR}-12-31")
    code, out, _ = _run(
        capsys, "rewards", "rule", *db, "--name", "Bonus", "--percent", "2.5", *span,
        "--cap-reward", "$1,000", "--json",
    )  # fmt: skip
    assert code == 0
    first = json.loads(out)
    code, _, err = _run(capsys, "rewards", "rule", *db, "--name", "Gift", "--fixed", "50", *span)
    assert code == 1
    assert f"Bonus and Gift overlap ({YEAR}-01-01 to {YEAR}-12-31) at the same priority" in err
    code, _, err = _run(capsys, "rewards", "rule", *db, "--name", "X", "--fixed", "-5", *span)
    assert (code, err) == (1, "fieldrep: error: X: the amount cannot be negative\n")
    code, out, _ = _run(
        capsys, "rewards", "rule", *db, "--id", first["rule_id"], "--name", "Bonus",
        "--percent", "3", *span, "--json",
    )  # fmt: skip
    assert json.loads(out)["version"] == 2
    code, out, _ = _run(capsys, "rewards", "rules", *db, "--json")
    (current,) = json.loads(out)["rules"]
    assert (current["version"], current["percent_bp"], current["cap_per_reward_cents"]) == (
        2,
        300,
        None,
    )
    code, out, _ = _run(capsys, "rewards", "rules", "--all", *db, "--json")
    assert [r["percent_bp"] for r in json.loads(out)["rules"]] == [250, 300]
    # the new version applies to won referrals not paid yet: backfill them
    ctx = Context.open(db_path)
    ref = add_referral(ctx, org)
    ctx.writer.update("referrals", ref, {"stage": "won", "amount": 10_000.0})
    ctx.close()
    code, out, _ = _run(capsys, "rewards", "backfill", *db, "--json")
    assert code == 0
    (created,) = json.loads(out)["created"]
    code, out, _ = _run(capsys, "rewards", "list", *db, "--json")
    assert [(r["id"], r["amount_cents"]) for r in json.loads(out)["rewards"]] == [(created, 30_000)]
    assert json.loads(_run(capsys, "rewards", "backfill", *db, "--json")[1])["created"] == []
