"""Ordered schema migrations, the version kept in ``PRAGMA user_version``.

Each step and its version bump commit in one transaction. Before an existing database is migrated a
copy is taken beside it (``NAME.v<old>.bak``); a database newer than this code is refused untouched.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from fieldrep.store.errors import NewerDatabaseError, StoreError

log = logging.getLogger(__name__)


def _v1_initial_schema(conn: sqlite3.Connection) -> None:
    sql = resources.files("fieldrep.store").joinpath("schema_v1.sql").read_text(encoding="utf-8")
    for statement in _split_sql(sql):
        conn.execute(statement)


def _split_sql(sql: str) -> list[str]:
    """Split a script into statements (executescript would commit our transaction)."""
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement: {buffer.strip()[:80]}")
    return statements


# Local-only: the geocoder's answer cache and the accounts' full-text index (FTS5 row = accounts
# rowid). Triggers keep the index right whatever writes the rows (the writer, a sync pull, SQL). A
# bulk writer may defer them for its own transaction (local_meta 'search_index.deferred', see
# fieldrep.store.accounts_repository.deferred_search_index): one set-based insert is ~6x cheaper
# than 100,000 per-row FTS inserts.
_FTS_LIVE = "WHEN NOT EXISTS (SELECT 1 FROM local_meta WHERE key = 'search_index.deferred')"
_FTS_CONTACTS = (
    "(SELECT group_concat(trim(c.first_name || ' ' || c.last_name), ' ') FROM contacts c"
    " WHERE c.account_id = {ref}.{col})"
)
_FTS_VALUES = (
    "INSERT INTO accounts_fts (rowid, name, address, contacts, notes) VALUES (new.rowid, new.name,"
    " trim(coalesce(new.street, '') || ' ' || coalesce(new.city, '') || ' ' ||"
    " coalesce(new.region, '') || ' ' || coalesce(new.postal_code, '')),"
    f" {_FTS_CONTACTS.format(ref='new', col='id')}, coalesce(new.notes, ''));"
)
_V2_ACCOUNTS_SEARCH = [
    "CREATE TABLE geocode_cache (provider TEXT NOT NULL, query TEXT NOT NULL, lat REAL, lon REAL,"
    " quality TEXT, address TEXT, fetched_at TEXT NOT NULL, PRIMARY KEY (provider, query))",
    "CREATE VIRTUAL TABLE accounts_fts USING fts5(name, address, contacts, notes,"
    " tokenize = 'unicode61 remove_diacritics 2')",
    "INSERT INTO accounts_fts (rowid, name, address, contacts, notes) SELECT a.rowid, a.name,"
    " trim(coalesce(a.street, '') || ' ' || coalesce(a.city, '') || ' ' || coalesce(a.region, '')"
    f" || ' ' || coalesce(a.postal_code, '')), {_FTS_CONTACTS.format(ref='a', col='id')},"
    " coalesce(a.notes, '') FROM accounts a",
    f"CREATE TRIGGER accounts_fts_insert AFTER INSERT ON accounts {_FTS_LIVE} BEGIN {_FTS_VALUES}"
    " END",
    "CREATE TRIGGER accounts_fts_update AFTER UPDATE OF name, street, city, region, postal_code,"
    f" notes ON accounts {_FTS_LIVE} BEGIN DELETE FROM accounts_fts WHERE rowid = old.rowid;"
    f" {_FTS_VALUES} END",
    # Deletes are never deferred: a stale row pointing at a reused rowid would be a wrong hit.
    "CREATE TRIGGER accounts_fts_delete AFTER DELETE ON accounts BEGIN"
    " DELETE FROM accounts_fts WHERE rowid = old.rowid; END",
]
for _event, _ref in (("INSERT", "new"), ("DELETE", "old"), ("UPDATE", "new"), ("UPDATE", "old")):
    _V2_ACCOUNTS_SEARCH.append(
        f"CREATE TRIGGER contacts_fts_{_event.lower()}_{_ref} AFTER {_event} ON contacts {_FTS_LIVE}"
        f" BEGIN UPDATE accounts_fts SET contacts = {_FTS_CONTACTS.format(ref=_ref, col='account_id')}"
        f" WHERE rowid = (SELECT rowid FROM accounts WHERE id = {_ref}.account_id); END"
    )


def _v2_accounts_search(conn: sqlite3.Connection) -> None:
    for statement in _V2_ACCOUNTS_SEARCH:
        conn.execute(statement)


# v3: an outbox entry may be an 'insert' that stands for its whole row (see fieldrep.store.outbox)
# instead of a copy of every value and clock. SQLite cannot change a CHECK in place, so the table is
# rebuilt; the AUTOINCREMENT counter is carried over, because it is this device's mutation sequence
# and the server ignores a sequence number it has already applied.
_V3_OUTBOX = [
    "CREATE TABLE outbox_v3 (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL,"
    " row_id TEXT NOT NULL, op TEXT NOT NULL CHECK (op IN ('upsert', 'delete', 'insert')),"
    " fields TEXT NOT NULL DEFAULT '{}', clocks TEXT NOT NULL DEFAULT '{}',"
    " created_at TEXT NOT NULL)",
    "INSERT INTO outbox_v3 (seq, tbl, row_id, op, fields, clocks, created_at)"
    " SELECT seq, tbl, row_id, op, fields, clocks, created_at FROM outbox",
    "DROP TABLE outbox",
    "ALTER TABLE outbox_v3 RENAME TO outbox",
    "CREATE INDEX outbox_row ON outbox (tbl, row_id)",
]


def _v3_outbox_inserts(conn: sqlite3.Connection) -> None:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    for statement in _V3_OUTBOX:
        conn.execute(statement)
    if row is not None:
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'outbox'")
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)", (row[0],))


# v4, local only: every account's duplicate keys (same name and postal code, same phone, same
# website domain; fieldrep.services.accounts.keys) filed as (hash, account rowid), so an import looks
# up the keys of its own rows instead of deriving them from every account again. The keys take
# Python to derive, so SQL cannot file them itself: the triggers queue each account inserted, and
# each one changed or deleted with the values it had, whatever writes it (the writer, a sync pull,
# SQL); the next import files the queued ones first and drops the keys they held. So an account is
# always either queued or filed under its current keys. An import files its own new rows as it
# writes them (local_meta 'account_keys.deferred' spares them the queue). Accounts are referred to
# by rowid, as accounts_fts does: a VACUUM that renumbered them would need both rebuilt.
ACCOUNT_KEYS_DEFERRED = "account_keys.deferred"
_KEY_COLUMNS = ("name", "postal_code", "phone", "website")


def _queue(row: str, old: int) -> str:
    """The trigger statement queuing ``row`` (new or old) unless it already is, with its values
    when ``old``."""
    cols, values = "account, old", f"{row}.rowid, {old}"
    if old:
        cols += ", " + ", ".join(_KEY_COLUMNS)
        values += ", " + ", ".join(f"{row}.{c}" for c in _KEY_COLUMNS)
    return (
        f"INSERT INTO account_keys_queue ({cols}) SELECT {values} WHERE NOT EXISTS (SELECT 1"
        f" FROM account_keys_queue q WHERE q.account = {row}.rowid AND q.old = {old});"
    )


_V4_ACCOUNT_KEYS = [
    "CREATE TABLE account_keys (h INTEGER NOT NULL, account INTEGER NOT NULL,"
    " PRIMARY KEY (h, account)) WITHOUT ROWID",
    # old = 1: the account held these values when queued, and may have keys filed for them. One
    # entry of each kind per account: the first change after a refresh holds the values filed
    # (later ones held values never filed), so a laptop that syncs for months and never imports
    # keeps at most two entries per account.
    "CREATE TABLE account_keys_queue (seq INTEGER PRIMARY KEY, account INTEGER NOT NULL,"
    " old INTEGER NOT NULL DEFAULT 0, name TEXT, postal_code TEXT, phone TEXT, website TEXT,"
    " UNIQUE (account, old))",
    # NOT EXISTS, not OR IGNORE: a trigger takes the conflict policy of the statement that fired
    # it, and a sync pull's upsert would turn OR IGNORE back into an error.
    "CREATE TRIGGER account_keys_insert AFTER INSERT ON accounts WHEN NOT EXISTS"
    f" (SELECT 1 FROM local_meta WHERE key = '{ACCOUNT_KEYS_DEFERRED}') BEGIN {_queue('new', 0)} END",
    "CREATE TRIGGER account_keys_update AFTER UPDATE ON accounts WHEN old.rowid IS NOT new.rowid"
    + "".join(f" OR old.{c} IS NOT new.{c}" for c in _KEY_COLUMNS)
    + f" BEGIN {_queue('old', 1)} {_queue('new', 0)} END",
    f"CREATE TRIGGER account_keys_delete AFTER DELETE ON accounts BEGIN {_queue('old', 1)} END",
    "INSERT INTO account_keys_queue (account) SELECT rowid FROM accounts",
]


def _v4_account_keys(conn: sqlite3.Connection) -> None:
    for statement in _V4_ACCOUNT_KEYS:
        conn.execute(statement)


# v5, local only: routing a new account counts each member's accounts in the territory (owner and
# territory together); with both in one index that count reads the index alone, not ~10,000 rows
# of the table per member (0.25 s for an import touching every territory of the demo book). The
# index on the owner alone is its prefix.
_V5_OWNER_TERRITORY = [
    "CREATE INDEX accounts_owner_territory ON accounts (owner_id, territory_id)",
    "DROP INDEX accounts_owner",
]


def _v5_owner_territory_index(conn: sqlite3.Connection) -> None:
    for statement in _V5_OWNER_TERRITORY:
        conn.execute(statement)


# v6, local only: the conflict log is looked up by row and field (a sync's duplicate check, once per
# refused or lost field: without an index each lookup read the whole log, and a 20,000-change push
# left 100,000 rows to scan per lookup) and by refused rows still open (kept on the laptop).
_V6_CONFLICT_LOOKUPS = [
    "CREATE INDEX conflicts_row ON conflicts (tbl, row_id, field, lost_clock)",
    "CREATE INDEX conflicts_refused ON conflicts (kept_clock, resolved_at, tbl, row_id)",
]


def _v6_conflict_lookups(conn: sqlite3.Connection) -> None:
    for statement in _V6_CONFLICT_LOOKUPS:
        conn.execute(statement)


# v7, local only: the referral duplicate check's match index (fieldrep.services.referrals.
# match_index). ``match_keys`` files exact keys ("p:+16175550142", "e:jane@acme.com", "d:acme.com",
# "a:12|main st|02139") of accounts, contacts and referrals; ``match_names`` each account's and
# referral's company name, normalised once (legal forms stripped), for the fuzzy scan. Deriving
# them takes Python (phonenumbers, cleanco's terms), so triggers only queue the rows written,
# whatever wrote them (the writer, a sync pull, SQL), and the check files the queue first. Local
# indexes on referrals for the pipeline board (stage columns, linked duplicates, captured by).
_MATCH_COLUMNS = {
    "accounts": ("name", "phone", "email", "website", "street", "postal_code", "country"),
    "contacts": ("account_id", "email", "phone"),
    "referrals": (
        "referred_company", "referred_email", "referred_phone", "referred_street",
        "referred_postal_code", "referred_country", "match_name", "match_email", "match_phone",
    ),
}  # fmt: skip


def _match_queue(tbl: str, ref: str) -> str:
    # NOT EXISTS, not OR IGNORE (see v4): a sync pull's upsert would turn OR IGNORE into an error.
    return (
        f"INSERT INTO match_queue (tbl, row_id) SELECT '{tbl}', {ref}.id WHERE NOT EXISTS"
        f" (SELECT 1 FROM match_queue q WHERE q.tbl = '{tbl}' AND q.row_id = {ref}.id);"
    )


_V7_MATCH_INDEX = [
    "CREATE TABLE match_keys (key TEXT NOT NULL, tbl TEXT NOT NULL, row_id TEXT NOT NULL,"
    " PRIMARY KEY (key, tbl, row_id)) WITHOUT ROWID",
    "CREATE INDEX match_keys_row ON match_keys (tbl, row_id)",
    "CREATE TABLE match_names (tbl TEXT NOT NULL, row_id TEXT NOT NULL, name TEXT NOT NULL,"
    " PRIMARY KEY (tbl, row_id)) WITHOUT ROWID",
    "CREATE TABLE match_queue (tbl TEXT NOT NULL, row_id TEXT NOT NULL,"
    " PRIMARY KEY (tbl, row_id)) WITHOUT ROWID",
    "CREATE INDEX referrals_stage_created ON referrals (stage, created_at)",
    "CREATE INDEX referrals_duplicate_of ON referrals (duplicate_of_id)",
    "CREATE INDEX referrals_captured_by ON referrals (captured_by_id)",
    "CREATE INDEX tasks_referral ON tasks (referral_id)",
]
for _tbl, _cols in _MATCH_COLUMNS.items():
    _V7_MATCH_INDEX += [
        f"CREATE TRIGGER {_tbl}_match_insert AFTER INSERT ON {_tbl} BEGIN"
        f" {_match_queue(_tbl, 'new')} END",
        f"CREATE TRIGGER {_tbl}_match_update AFTER UPDATE OF {', '.join(_cols)} ON {_tbl} BEGIN"
        f" {_match_queue(_tbl, 'new')} END",
        f"CREATE TRIGGER {_tbl}_match_delete AFTER DELETE ON {_tbl} BEGIN"
        f" {_match_queue(_tbl, 'old')} END",
        f"INSERT INTO match_queue (tbl, row_id) SELECT '{_tbl}', id FROM {_tbl}",
    ]


def _v7_referral_match_index(conn: sqlite3.Connection) -> None:
    for statement in _V7_MATCH_INDEX:
        conn.execute(statement)


# v8 (numbered after the v6 and v7 of other branches; its place in MIGRATIONS is what counts): the
# reward ledger (fieldrep.domain.rewards, fieldrep.services.rewards) and the e-mail outbox
# (fieldrep.services.notifications). reward_rules, rewards and notifications are rebuilt, because
# SQLite cannot widen a CHECK in place: every old value stays allowed (rows written by older laptops
# and the demo still apply) and the new ones join it. Money in integer cents and basis points beside
# the old REAL columns, which older laptops still write. A reward's id is derived from its ledger key
# (referral, rule, trigger), so two laptops computing the same reward offline write the same row and
# the server merges them: paid once. Contacts get their consent to referral messages and rewards.
_V8_REWARD_RULES = """CREATE TABLE reward_rules_v8 (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    recipient TEXT NOT NULL DEFAULT 'referrer' CHECK (recipient IN ('referrer', 'capturing_rep',
        'owner_rep', 'referrer_contact', 'referrer_account', 'referred_party')),
    trigger_stage TEXT NOT NULL DEFAULT 'won'
        CHECK (trigger_stage IN ('new', 'contacted', 'qualified', 'proposal', 'won')),
    kind TEXT NOT NULL CHECK (kind IN ('fixed', 'percent', 'tiered', 'tiered_by_count',
        'tiered_by_value')),
    amount REAL,
    percent REAL,
    tiers TEXT NOT NULL DEFAULT '[]',
    cap_amount REAL,
    cap_period TEXT CHECK (cap_period IS NULL OR cap_period IN ('month', 'quarter', 'year')),
    hold_days INTEGER NOT NULL DEFAULT 0 CHECK (hold_days >= 0),
    needs_approval INTEGER NOT NULL DEFAULT 1,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    rule_key TEXT,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    priority INTEGER NOT NULL DEFAULT 0,
    valid_from TEXT,
    valid_until TEXT,
    currency TEXT NOT NULL DEFAULT 'USD',
    amount_cents INTEGER CHECK (amount_cents IS NULL OR amount_cents >= 0),
    percent_bp INTEGER CHECK (percent_bp IS NULL OR percent_bp BETWEEN 0 AND 10000),
    base_cap_cents INTEGER CHECK (base_cap_cents IS NULL OR base_cap_cents > 0),
    cap_per_reward_cents INTEGER CHECK (cap_per_reward_cents IS NULL OR cap_per_reward_cents > 0),
    cap_per_referrer_year_cents INTEGER
        CHECK (cap_per_referrer_year_cents IS NULL OR cap_per_referrer_year_cents > 0),
    budget_cents INTEGER CHECK (budget_cents IS NULL OR budget_cents > 0),
    min_deal_cents INTEGER NOT NULL DEFAULT 0 CHECK (min_deal_cents >= 0),
    new_customers_only INTEGER NOT NULL DEFAULT 0,
    exclude_self_referrals INTEGER NOT NULL DEFAULT 1,
    require_consent INTEGER NOT NULL DEFAULT 1,
    created_by_id TEXT,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
)"""
_V8_REWARDS = """CREATE TABLE rewards_v8 (
    id TEXT PRIMARY KEY,
    referral_id TEXT NOT NULL,
    rule_id TEXT,
    recipient_account_id TEXT,
    recipient_contact_id TEXT,
    recipient_user_id TEXT,
    kind TEXT NOT NULL DEFAULT 'reward' CHECK (kind IN ('reward', 'clawback')),
    clawback_of_id TEXT,
    amount REAL NOT NULL,
    currency TEXT NOT NULL DEFAULT 'USD',
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'on_hold',
        'awaiting_approval', 'approved', 'issued', 'redeemed', 'declined', 'revoked', 'voided')),
    hold_until TEXT,
    approved_by_id TEXT,
    approved_at TEXT,
    issued_at TEXT,
    redeemed_at TEXT,
    note TEXT,
    created_at TEXT NOT NULL,
    ledger_key TEXT,
    amount_cents INTEGER,
    rule_version INTEGER,
    trigger_stage TEXT,
    recipient_kind TEXT,
    explanation TEXT,
    declined_reason TEXT,
    decided_by_id TEXT,
    decided_at TEXT,
    voided_at TEXT,
    payout_batch TEXT,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0,
    CHECK (kind = 'reward' OR amount_cents IS NULL OR amount_cents <= 0)
)"""
_V8_NOTIFICATIONS = """CREATE TABLE notifications_v8 (
    id TEXT PRIMARY KEY,
    recipient_user_id TEXT,
    recipient_contact_id TEXT,
    channel TEXT NOT NULL DEFAULT 'app' CHECK (channel IN ('app', 'email', 'sms')),
    subject TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    related_table TEXT,
    related_id TEXT,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed',
        'read', 'skipped')),
    created_at TEXT NOT NULL,
    sent_at TEXT,
    template TEXT,
    to_address TEXT,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT,
    message_id TEXT,
    last_error TEXT,
    origin_device TEXT,
    read_at TEXT,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
)"""
_V8_INDEXES = [
    "CREATE INDEX rewards_referral ON rewards (referral_id)",
    "CREATE INDEX rewards_status ON rewards (status)",
    "CREATE UNIQUE INDEX rewards_ledger_key ON rewards (ledger_key)",
    "CREATE INDEX rewards_recipient_contact ON rewards (recipient_contact_id)",
    "CREATE INDEX rewards_recipient_account ON rewards (recipient_account_id)",
    "CREATE INDEX rewards_recipient_user ON rewards (recipient_user_id)",
    "CREATE INDEX rewards_clawback_of ON rewards (clawback_of_id)",
    "CREATE INDEX referrals_referrer_contact ON referrals (referrer_contact_id)",
    "CREATE INDEX referrals_created ON referrals (created_at)",  # metrics read by period
    "CREATE INDEX reward_rules_key ON reward_rules (rule_key, version)",
    "CREATE INDEX notifications_recipient ON notifications (recipient_user_id, status)",
    "CREATE INDEX notifications_outbox ON notifications (channel, status, next_attempt_at)",
    "ALTER TABLE contacts ADD COLUMN referral_consent INTEGER NOT NULL DEFAULT 0",
    # Local only: the e-mail templates this laptop renders (defaults live in the code).
    "CREATE TABLE message_templates (name TEXT PRIMARY KEY, subject TEXT NOT NULL,"
    " body TEXT NOT NULL, updated_at TEXT NOT NULL)",
]


def _rebuild(conn: sqlite3.Connection, name: str, create: str) -> None:
    old = [r[1] for r in conn.execute("SELECT * FROM pragma_table_info(?)", (name,))]
    conn.execute(create)
    cols = ", ".join(old)
    conn.execute(f"INSERT INTO {name}_v8 ({cols}) SELECT {cols} FROM {name}")
    conn.execute(f"DROP TABLE {name}")
    conn.execute(f"ALTER TABLE {name}_v8 RENAME TO {name}")


def _v8_rewards_ledger(conn: sqlite3.Connection) -> None:
    _rebuild(conn, "reward_rules", _V8_REWARD_RULES)
    _rebuild(conn, "rewards", _V8_REWARDS)
    _rebuild(conn, "notifications", _V8_NOTIFICATIONS)
    for statement in _V8_INDEXES:
        conn.execute(statement)


# v9: how the referrer knows the person and when consent to be contacted was given, as fields of
# their own (the relationship used to be folded into the notes). Synced: the server's v5 step adds
# the same columns (fieldrep.server.migrations._v5_referral_relationship_consent).
def _v9_referral_relationship_consent(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE referrals ADD COLUMN relationship TEXT")
    conn.execute("ALTER TABLE referrals ADD COLUMN consent_at TEXT")
    # A referral is only saved with consent: the ones captured before this step had it at capture.
    conn.execute("UPDATE referrals SET consent_at = created_at")


# v10: the referral SLA is a team setting (issue 18): days per pipeline stage on a territory, as a
# JSON object ({"new": 1, "contacted": 5}; NULL: not set), written by managers and synced like the
# rest of the territory. A territory without a value for a stage follows its parent's, up to its
# root, where the team default lives (fieldrep.services.referrals.sla). Synced: the server's v6
# step adds the same column (fieldrep.server.migrations._v6_territory_referral_sla).
def _v10_territory_referral_sla(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE territories ADD COLUMN referral_sla TEXT")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_initial_schema,
    _v2_accounts_search,
    _v3_outbox_inserts,
    _v4_account_keys,
    _v5_owner_territory_index,
    _v6_conflict_lookups,
    _v7_referral_match_index,
    _v8_rewards_ledger,
    _v9_referral_relationship_consent,
    _v10_territory_referral_sla,
]
LATEST_VERSION = len(MIGRATIONS)
# The schema version a laptop reports to the sync server (fieldrep.sync.protocol): that of the last
# migration that changed what is synced (v10, the territory's referral SLA; found by name, so
# renumbering the list keeps it right). Local-only steps (v4 to v7) leave it alone, so a laptop and
# a server a local step apart still sync; raise it with any step that changes a synced table.
SYNCED_SCHEMA_VERSION = MIGRATIONS.index(_v10_territory_referral_sla) + 1


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def backup(conn: sqlite3.Connection, target: Path) -> None:
    """A consistent copy of the open database at ``target`` (SQLite's online backup API)."""
    dest = sqlite3.connect(target)
    try:
        conn.backup(dest)
    finally:
        dest.close()


def migrate(conn: sqlite3.Connection, path: Path | None = None) -> int:
    """Bring the database to :data:`LATEST_VERSION`; returns the version it started at."""
    current = schema_version(conn)
    if current > LATEST_VERSION:
        raise NewerDatabaseError(
            f"{path or 'the database'} was written by a newer FieldRep (schema {current}, this"
            f" version understands up to {LATEST_VERSION}); please update FieldRep"
        )
    if current == LATEST_VERSION:
        return current
    if current > 0 and path is not None:
        copy = path.with_name(f"{path.name}.v{current}.bak")
        try:
            backup(conn, copy)
        except (OSError, sqlite3.Error) as exc:
            copy.unlink(missing_ok=True)
            raise StoreError(
                f"cannot copy {path.name} aside before upgrading it ({exc}); nothing was changed"
            ) from exc
        log.info("copied %s to %s before migrating from schema %d", path, copy, current)
    for version in range(current + 1, LATEST_VERSION + 1):
        step = MIGRATIONS[version - 1]
        try:
            conn.execute("BEGIN IMMEDIATE")
            step(conn)
            conn.execute(f"PRAGMA user_version = {int(version)}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            reason = "the disk is full" if "full" in str(exc).lower() else str(exc)
            raise StoreError(
                f"cannot upgrade {path or 'the database'} to schema {version}: {reason};"
                " the database was left as it was"
            ) from exc
        log.info("migrated %s to schema %d", path or "database", version)
    return current
