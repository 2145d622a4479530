"""Where FieldRep keeps its files on this platform (no folders are created at import time)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "FieldRep"
APP_AUTHOR = "FieldRep"


def data_dir() -> Path:
    """The per-user data folder; ``FIELDREP_HOME`` overrides it (tests and portable installs)."""
    override = os.environ.get("FIELDREP_HOME")
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def cache_dir() -> Path:
    """Files FieldRep rebuilds from what is installed (the gazetteer's lookup file): safe to delete.

    ``FIELDREP_CACHE`` overrides it; with ``FIELDREP_HOME`` set it is that folder's ``cache``.
    """
    override = os.environ.get("FIELDREP_CACHE")
    if override:
        return Path(override)
    home = os.environ.get("FIELDREP_HOME")
    if home:
        return Path(home) / "cache"
    return Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))


def default_db_path() -> Path:
    """The database the GUI and every CLI data command use unless given ``--db``."""
    return data_dir() / "fieldrep.db"


def settings_path() -> Path:
    return data_dir() / "settings.json"


def child_env() -> dict[str, str]:
    """The environment for a child ``python -m fieldrep...``: this process's, with the folder that
    holds the ``fieldrep`` package first on ``PYTHONPATH``, so the child finds the same code even
    when it is not installed (a checkout started as ``python path/to/main.py``)."""
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    rest = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = root + (os.pathsep + rest if rest else "")
    return env
