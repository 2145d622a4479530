"""Small builders for territory service tests (real rows through the Writer)."""

from __future__ import annotations

from typing import Any

from fieldrep.services.context import Context


def user(ctx: Context, username: str, role: str = "rep") -> str:
    return ctx.writer.insert(
        "users", {"username": username, "display_name": username.title(), "role": role}
    )


def account(ctx: Context, name: str, **fields: Any) -> str:
    return ctx.writer.insert("accounts", {"name": name, **fields})


def square(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}
