"""``fieldrep`` with and without a command: the app's start skips the commands' parsers, and
help and mistakes still get the full command line."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from fieldrep import cli


def _gui_args(argv: list[str]) -> argparse.Namespace:
    seen: list[argparse.Namespace] = []
    assert cli.main(argv, gui=lambda args: seen.append(args) or 0) == 0
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize(
    ("argv", "db", "verbose"),
    [
        ([], None, False),
        (["--db", "/tmp/a.db"], "/tmp/a.db", False),
        (["-v", "--db=/tmp/b.db"], "/tmp/b.db", True),
        (["gui", "--db", "/tmp/c.db"], "/tmp/c.db", False),
    ],
)
def test_no_command_opens_the_app_with_its_options(
    argv: list[str], db: str | None, verbose: bool
) -> None:
    args = _gui_args(argv)
    assert (args.command in (None, "gui"), args.db, args.verbose) == (True, db, verbose)


def test_opening_the_app_imports_no_command_module() -> None:
    code = (
        "import sys\n"
        "from fieldrep import cli\n"
        "cli.main(['--db', 'x.db'], gui=lambda args: 0)\n"
        "print(sorted(m for m in sys.modules if m.endswith('_command')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--db", "x.db", "--help"], gui=lambda args: 0)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for listed in ("COMMAND", "import", "sync", "geocode"):
        assert listed in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["imprt", "accounts"], "invalid choice: 'imprt'"),
        (["--db"], "argument --db: expected one argument"),
        (["--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_mistakes_get_the_full_usage_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv, gui=lambda args: pytest.fail("the app must not open"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "COMMAND ..." in err  # the usage of the full command line, not the app's alone
