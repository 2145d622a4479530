"""No module over ~400 lines without a reason: a longer one says in its docstring why it stays whole."""

from __future__ import annotations

import ast
from pathlib import Path

import fieldrep

LIMIT = 400
# Being reworked by other changes at the time of writing; each gets its split or its reason there.
PENDING = {
    "sync/client.py",
    "store/migrations.py",
    "ui/models/accounts_table_model.py",
    "ui/views/territory_definitions_panel.py",
}


def test_a_long_module_says_why_it_stays_whole() -> None:
    root = Path(fieldrep.__file__).parent
    unexplained = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        if rel in PENDING or text.count("\n") <= LIMIT:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if "Kept whole:" not in doc:
            unexplained.append(f"{rel} ({text.count(chr(10))} lines)")
    assert unexplained == []
