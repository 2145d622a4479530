"""The sync protocol spoken between the desktop client and the central server.

Request and response bodies are pydantic models shared by both sides, so a field renamed on one side
breaks the other's tests at once. Every request carries the protocol and schema versions in two headers
(:data:`PROTOCOL_HEADER`, :data:`SCHEMA_HEADER`); a client older than the server supports gets HTTP 426
with a "please upgrade" message.

Pull responses are large (a first sync moves every row in scope), so they travel column-wise: for each
table one list of column names and rows as lists ``[id, version, deleted, clocks_json, *values]``. The
models below describe that shape for the OpenAPI document; the server writes the JSON directly.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fieldrep.store.migrations import SYNCED_SCHEMA_VERSION

# 2: the login answer carries ``clock_tag`` (sent only to clients of protocol 2 and later: older
# ones refuse unknown fields), and so does every pull page that is not a reset (protocol-2 clients
# read pages as plain JSON, validating only resets), so a laptop signed in before clock tags learns
# its tag at its next sync.
PROTOCOL_VERSION = 2
# The oldest protocol this code still serves; raise it when an old client could corrupt data.
MIN_PROTOCOL_VERSION = 1
SCHEMA_VERSION = SYNCED_SCHEMA_VERSION

PROTOCOL_HEADER = "FieldRep-Protocol"
SCHEMA_HEADER = "FieldRep-Schema"

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_MUTATIONS_PER_PUSH = 500
MAX_PULL_LIMIT = 5000
DEFAULT_PULL_LIMIT = 2000

# Whole numbers travel as 64-bit integers in both server databases.
MAX_INT = 2**63 - 1
# Text without NUL characters (PostgreSQL cannot store them, and no person types them).
TEXT_PATTERN = r"^[^\x00]*$"

# Field clocks: 16 hex digits, "@", a device id.
CLOCK_PATTERN = r"^[0-9a-f]{16}@[A-Za-z0-9_.:-]{1,64}$"
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
DELETE_CLOCK = "_deleted"
# kept_clock of a local conflict row that records a mutation the server refused.
REJECTED = "rejected"
# field of the one conflict row kept for a refused new record (its values stay in the row itself).
WHOLE_ROW = "_row"
# Bookkeeping fields every edit bumps: a clash on them is not worth showing anyone.
UNLOGGED_FIELDS = frozenset({"updated_at"})

Scalar = str | int | float | bool | None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Model):
    """Every 4xx/5xx answer: a machine code and one sentence for people."""

    error: str
    message: str


class LoginRequest(_Model):
    user: str = Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)
    password: str = Field(min_length=1, max_length=1000, pattern=TEXT_PATTERN)
    device_id: str = Field(pattern=ID_PATTERN)
    # The last outbox sequence this device already consumed locally (entries up to it will never be
    # sent), so a database that worked offline before its first sign-in starts without a gap.
    base_seq: int = Field(default=0, ge=0, le=MAX_INT)


class LoginResponse(_Model):
    token: str
    user_id: str
    username: str
    role: str
    last_seq: int
    # What stands for this device in the clocks the server keeps and sends (device ids are never
    # shown to other users); the laptop compares its pending clocks under it.
    clock_tag: str | None = None


class Mutation(_Model):
    seq: int = Field(ge=1, le=MAX_INT)
    tbl: str = Field(min_length=1, max_length=64, pattern=TEXT_PATTERN)
    row_id: str = Field(pattern=ID_PATTERN)
    op: Literal["upsert", "delete"]
    fields: dict[str, Scalar] = Field(default_factory=dict)
    clocks: dict[str, str] = Field(default_factory=dict)


class PushRequest(_Model):
    device_id: str = Field(pattern=ID_PATTERN)
    # The pull cursor the device has applied: values changed after it were never seen there.
    cursor: int = Field(default=0, ge=0, le=MAX_INT)
    mutations: list[Mutation] = Field(max_length=MAX_MUTATIONS_PER_PUSH)


class Rejection(_Model):
    seq: int
    tbl: str
    row_id: str
    reason: str


class Conflict(_Model):
    """A field value that lost a merge: ``lost_*`` was not kept, ``kept_*`` is the current state."""

    seq: int
    tbl: str
    row_id: str
    field: str
    kept_value: Any = None
    kept_clock: str | None = None
    lost_value: Any = None
    lost_clock: str | None = None


class PushResponse(_Model):
    last_seq: int
    applied: int
    skipped: int
    rejected: list[Rejection]
    conflicts: list[Conflict]
    clock_hint: str | None = None


class RowRef(_Model):
    tbl: str = Field(min_length=1, max_length=64, pattern=TEXT_PATTERN)
    id: str = Field(pattern=ID_PATTERN)


class PullRequest(_Model):
    cursor: int = Field(default=0, ge=0, le=MAX_INT)
    limit: int = Field(default=DEFAULT_PULL_LIMIT, ge=1, le=MAX_PULL_LIMIT)
    scope_key: str | None = Field(default=None, max_length=128, pattern=TEXT_PATTERN)
    # Rows the client wants again whatever the cursor (after a refused push or a lost merge).
    refetch: list[RowRef] = Field(default_factory=list, max_length=MAX_MUTATIONS_PER_PUSH)


class TablePage(_Model):
    columns: list[str]
    rows: list[list[Any]]


class Reset(_Model):
    reason: Literal["scope_changed", "too_far_behind"]
    message: str


class PullResponse(_Model):
    cursor: int
    more: bool
    high_water: int
    scope_key: str
    clock_hint: str | None = None
    reset: Reset | None = None
    tables: dict[str, TablePage]
    evict: list[RowRef]
    # What stands for the pulling device in clocks (as LoginResponse.clock_tag); protocol 2+,
    # pages that are no reset.
    clock_tag: str | None = None


class TableChecksum(_Model):
    count: int
    version_sum: int


class ChecksumsResponse(_Model):
    high_water: int
    tables: dict[str, TableChecksum]


class HealthResponse(_Model):
    status: Literal["ok"]
    protocol: int
    min_protocol: int
    schema_version: int


def version_headers() -> dict[str, str]:
    return {PROTOCOL_HEADER: str(PROTOCOL_VERSION), SCHEMA_HEADER: str(SCHEMA_VERSION)}
