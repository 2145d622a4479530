"""One cancellation type for every layer: what the task runner, the import, the export, online
geocoding and sync raise on a cancel is :class:`fieldrep.domain.errors.Cancelled` (export and sync
through subclasses that also stay in their own error families)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldrep.domain.errors import Cancelled, FieldRepError
from fieldrep.services.accounts.export import ExportCancelled, ExportError
from fieldrep.services.context import Context
from fieldrep.services.imports.accounts import ImportCancelled, import_accounts
from fieldrep.sync.client import Cancelled as SyncCancelled
from fieldrep.sync.client import SyncError
from fieldrep.ui.tasks import Cancelled as TaskCancelled


def test_every_layer_names_the_one_type() -> None:
    assert TaskCancelled is Cancelled
    assert ImportCancelled is Cancelled
    assert issubclass(ExportCancelled, Cancelled)
    assert issubclass(ExportCancelled, ExportError)
    assert issubclass(SyncCancelled, Cancelled)
    assert issubclass(SyncCancelled, SyncError)
    assert not issubclass(Cancelled, FieldRepError)  # stopping on request is not a failure


def test_a_cancelled_import_is_caught_as_the_one_type(ctx: Context, tmp_path: Path) -> None:
    src = tmp_path / "cancel.csv"
    src.write_text("name,city\nAcme,Boston\n", encoding="utf-8")
    with pytest.raises(Cancelled, match="nothing was imported"):
        import_accounts(ctx, src, cancelled=lambda: True)
    assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone() == (0,)
