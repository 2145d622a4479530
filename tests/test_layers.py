"""The Qt-free core stays Qt-free: PySide6 (and Qt-bound libraries) only under fieldrep/ui/ and in
fieldrep/app.py. Read with ``ast``, so a lazy import inside a function is caught too."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fieldrep"
QT_MODULES = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "PySide2", "qtpy")
QT_BACKENDS = (
    "matplotlib.backends.backend_qtagg",
    "matplotlib.backends.backend_qt5agg",
    "matplotlib.backends.backend_qt",
    "matplotlib.backends.qt_compat",
)


def allowed(path: Path) -> bool:
    rel = path.relative_to(PACKAGE).as_posix()
    return rel == "app.py" or rel.startswith("ui/")


def is_qt(module: str) -> bool:
    root = module.split(".", 1)[0]
    return root in QT_MODULES or any(
        module == backend or module.startswith(backend + ".") for backend in QT_BACKENDS
    )


def qt_imports(source: str, filename: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if is_qt(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if is_qt(node.module):
                found.append((node.lineno, node.module))
            # "from matplotlib.backends import backend_qtagg"
            found += [
                (node.lineno, f"{node.module}.{alias.name}")
                for alias in node.names
                if is_qt(f"{node.module}.{alias.name}") and not is_qt(node.module)
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and is_qt(node.args[0].value)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def test_qt_is_imported_only_in_the_ui_and_app() -> None:
    offenders = []
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10, "the scan found too few files to be looking in the right place"
    for path in files:
        if allowed(path):
            continue
        for lineno, module in qt_imports(path.read_text(encoding="utf-8"), str(path)):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{lineno} imports {module}")
    assert not offenders, "Qt imported outside fieldrep/ui and fieldrep/app.py:\n" + "\n".join(
        offenders
    )


def test_the_scanner_sees_every_form_of_import() -> None:
    source = (
        "import PySide6.QtCore\n"
        "from shiboken6 import isValid\n"
        "def later():\n"
        "    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg\n"
        "    from matplotlib.backends import backend_qt5agg\n"
        "    import importlib; importlib.import_module('PySide6.QtWidgets')\n"
        "import matplotlib.backends.backend_agg\n"
        "from fieldrep.ui import tasks\n"
    )
    assert [module for _line, module in qt_imports(source, "x.py")] == [
        "PySide6.QtCore",
        "shiboken6",
        "matplotlib.backends.backend_qtagg",
        "matplotlib.backends.backend_qt5agg",
        "PySide6.QtWidgets",
    ]


def test_the_allowed_places() -> None:
    assert allowed(PACKAGE / "app.py")
    assert allowed(PACKAGE / "ui" / "main_window.py")
    assert not allowed(PACKAGE / "services" / "context.py")
    assert not allowed(PACKAGE / "cli" / "app.py")
