-- FieldRep schema version 1. Frozen: later changes are new migrations, never edits here.
-- Synced tables carry a client-made UUIDv7 `id` and two metadata columns kept out of the domain's way:
--   _clocks  JSON object field -> "<hlc hex>@<device>", the per-field clocks for last-writer-wins merge
--   _version server change number of the state last received from the server (0: never synced)
-- References between synced tables are logical (indexed, no FOREIGN KEY): rows arrive in any order
-- during a sync and a rep may keep a visit whose account left their scope.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    email TEXT,
    phone TEXT,
    role TEXT NOT NULL DEFAULT 'rep' CHECK (role IN ('rep', 'manager', 'admin')),
    manager_id TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    home_lat REAL,
    home_lon REAL,
    created_at TEXT NOT NULL,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX users_username ON users (username);

CREATE TABLE territories (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    parent_id TEXT,
    kind TEXT NOT NULL DEFAULT 'territory' CHECK (kind IN ('region', 'territory')),
    color TEXT NOT NULL DEFAULT '#4e79a7',
    geometry TEXT,               -- GeoJSON MultiPolygon
    postal_codes TEXT NOT NULL DEFAULT '[]',  -- JSON list of normalised strings
    regions TEXT NOT NULL DEFAULT '[]',       -- JSON list of {"country": .., "region": ..}
    rules TEXT NOT NULL DEFAULT '[]',         -- JSON list of account-attribute rules
    priority INTEGER NOT NULL DEFAULT 100,
    owner_id TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    notes TEXT,
    created_at TEXT NOT NULL,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX territories_parent ON territories (parent_id);

CREATE TABLE territory_members (
    id TEXT PRIMARY KEY,
    territory_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'member')),
    routing_weight REAL NOT NULL DEFAULT 1.0 CHECK (routing_weight >= 0),
    capacity INTEGER,
    active INTEGER NOT NULL DEFAULT 1,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX territory_members_territory ON territory_members (territory_id);
CREATE INDEX territory_members_user ON territory_members (user_id);

CREATE TABLE assignment_history (
    id TEXT PRIMARY KEY,
    entity TEXT NOT NULL CHECK (entity IN ('account', 'referral', 'task')),
    entity_id TEXT NOT NULL,
    from_territory_id TEXT,
    to_territory_id TEXT,
    from_owner_id TEXT,
    to_owner_id TEXT,
    reason TEXT NOT NULL DEFAULT '',
    by_user_id TEXT,
    at TEXT NOT NULL,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX assignment_history_entity ON assignment_history (entity, entity_id);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    industry TEXT,
    size TEXT,                   -- employee band: '1-9', '10-49', '50-249', '250-999', '1000+'
    employees INTEGER,
    potential REAL,              -- expected yearly revenue
    status TEXT NOT NULL DEFAULT 'prospect'
        CHECK (status IN ('prospect', 'active', 'inactive', 'lost')),
    street TEXT,
    city TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT NOT NULL DEFAULT 'US',
    phone TEXT,
    email TEXT,
    website TEXT,
    notes TEXT,
    lat REAL CHECK (lat IS NULL OR lat BETWEEN -90 AND 90),
    lon REAL CHECK (lon IS NULL OR lon BETWEEN -180 AND 180),
    geocode_quality TEXT CHECK (geocode_quality IS NULL OR geocode_quality IN
        ('address', 'street', 'postal_code', 'city', 'manual')),
    geocode_source TEXT,
    territory_id TEXT,
    owner_id TEXT,
    locked INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX accounts_territory ON accounts (territory_id);
CREATE INDEX accounts_owner ON accounts (owner_id);
CREATE INDEX accounts_postal_code ON accounts (postal_code);
CREATE INDEX accounts_name ON accounts (name COLLATE NOCASE);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    account_id TEXT,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    title TEXT,
    email TEXT,
    phone TEXT,
    notes TEXT,
    created_at TEXT NOT NULL,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX contacts_account ON contacts (account_id);

CREATE TABLE visits (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    visited_at TEXT NOT NULL,
    duration_min INTEGER,
    outcome TEXT NOT NULL DEFAULT 'met'
        CHECK (outcome IN ('met', 'no_show', 'follow_up', 'order', 'lost')),
    notes TEXT,
    next_step TEXT,
    lat REAL,
    lon REAL,
    created_at TEXT NOT NULL,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX visits_account ON visits (account_id, visited_at);
CREATE INDEX visits_user ON visits (user_id, visited_at);

CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    account_id TEXT,
    referral_id TEXT,
    visit_id TEXT,
    user_id TEXT NOT NULL,
    title TEXT NOT NULL,
    notes TEXT,
    due_date TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    done_at TEXT,
    created_at TEXT NOT NULL,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tasks_user_due ON tasks (user_id, done, due_date);
CREATE INDEX tasks_account ON tasks (account_id);

CREATE TABLE deals (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    user_id TEXT,
    territory_id TEXT,
    referral_id TEXT,
    amount REAL NOT NULL CHECK (amount >= 0),
    currency TEXT NOT NULL DEFAULT 'USD',
    closed_on TEXT NOT NULL,     -- ISO date
    description TEXT,
    created_at TEXT NOT NULL,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deals_account ON deals (account_id);
CREATE INDEX deals_territory_date ON deals (territory_id, closed_on);
CREATE INDEX deals_user_date ON deals (user_id, closed_on);

CREATE TABLE quotas (
    id TEXT PRIMARY KEY,
    territory_id TEXT,
    user_id TEXT,
    period TEXT NOT NULL CHECK (period IN ('month', 'quarter', 'year')),
    period_start TEXT NOT NULL,  -- ISO date of the first day of the period
    metric TEXT NOT NULL DEFAULT 'sales' CHECK (metric IN ('sales', 'visits', 'referrals')),
    target REAL NOT NULL CHECK (target >= 0),
    created_at TEXT NOT NULL,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0,
    CHECK (territory_id IS NOT NULL OR user_id IS NOT NULL)
);
CREATE INDEX quotas_territory ON quotas (territory_id, period_start);
CREATE INDEX quotas_user ON quotas (user_id, period_start);

CREATE TABLE referrals (
    id TEXT PRIMARY KEY,
    referrer_account_id TEXT,
    referrer_contact_id TEXT,
    referred_name TEXT NOT NULL,
    referred_company TEXT,
    referred_email TEXT,
    referred_phone TEXT,
    referred_street TEXT,
    referred_city TEXT,
    referred_postal_code TEXT,
    referred_country TEXT,
    match_name TEXT,             -- normalised keys for duplicate detection
    match_email TEXT,
    match_phone TEXT,
    captured_by_id TEXT,
    visit_id TEXT,
    channel TEXT NOT NULL DEFAULT 'visit'
        CHECK (channel IN ('visit', 'phone', 'email', 'event', 'web', 'other')),
    territory_id TEXT,
    owner_id TEXT,
    stage TEXT NOT NULL DEFAULT 'new'
        CHECK (stage IN ('new', 'contacted', 'qualified', 'proposal', 'won', 'lost')),
    sla_due_at TEXT,
    duplicate_of_id TEXT,
    flags TEXT NOT NULL DEFAULT '[]',
    converted_account_id TEXT,
    amount REAL,
    lost_reason TEXT,
    notes TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX referrals_owner_stage ON referrals (owner_id, stage);
CREATE INDEX referrals_territory ON referrals (territory_id);
CREATE INDEX referrals_referrer ON referrals (referrer_account_id);
CREATE INDEX referrals_match_email ON referrals (match_email);
CREATE INDEX referrals_match_phone ON referrals (match_phone);

CREATE TABLE referral_events (
    id TEXT PRIMARY KEY,
    referral_id TEXT NOT NULL,
    at TEXT NOT NULL,
    user_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('created', 'stage', 'assignment', 'note', 'override',
                                       'duplicate', 'reward')),
    from_value TEXT,
    to_value TEXT,
    reason TEXT,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX referral_events_referral ON referral_events (referral_id, at);

CREATE TABLE reward_rules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    recipient TEXT NOT NULL DEFAULT 'referrer'
        CHECK (recipient IN ('referrer', 'capturing_rep', 'owner_rep')),
    trigger_stage TEXT NOT NULL DEFAULT 'won'
        CHECK (trigger_stage IN ('new', 'contacted', 'qualified', 'proposal', 'won')),
    kind TEXT NOT NULL CHECK (kind IN ('fixed', 'percent', 'tiered')),
    amount REAL,
    percent REAL,
    tiers TEXT NOT NULL DEFAULT '[]',  -- JSON list of {"min": amount, "percent": p}
    cap_amount REAL,
    cap_period TEXT CHECK (cap_period IS NULL OR cap_period IN ('month', 'quarter', 'year')),
    hold_days INTEGER NOT NULL DEFAULT 0,
    needs_approval INTEGER NOT NULL DEFAULT 1,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE rewards (
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
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
        ('pending', 'approved', 'issued', 'redeemed', 'declined', 'revoked')),
    hold_until TEXT,
    approved_by_id TEXT,
    approved_at TEXT,
    issued_at TEXT,
    redeemed_at TEXT,
    note TEXT,
    created_at TEXT NOT NULL,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX rewards_referral ON rewards (referral_id);
CREATE INDEX rewards_status ON rewards (status);

CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    recipient_user_id TEXT,
    recipient_contact_id TEXT,
    channel TEXT NOT NULL DEFAULT 'app' CHECK (channel IN ('app', 'email', 'sms')),
    subject TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    related_table TEXT,
    related_id TEXT,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed', 'read')),
    created_at TEXT NOT NULL,
    sent_at TEXT,
    _clocks TEXT NOT NULL DEFAULT '{}',
    _version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notifications_recipient ON notifications (recipient_user_id, status);

-- Local-only tables: never synced.
CREATE TABLE local_meta (
    key TEXT PRIMARY KEY,
    value TEXT
);

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the per-device mutation sequence
    tbl TEXT NOT NULL,
    row_id TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    fields TEXT NOT NULL DEFAULT '{}',      -- JSON: changed field -> new value
    clocks TEXT NOT NULL DEFAULT '{}',      -- JSON: changed field -> field clock
    created_at TEXT NOT NULL
);
CREATE INDEX outbox_row ON outbox (tbl, row_id);

CREATE TABLE tombstones (
    tbl TEXT NOT NULL,
    row_id TEXT NOT NULL,
    clock TEXT NOT NULL,
    deleted_at TEXT NOT NULL,
    _version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tbl, row_id)
);

CREATE TABLE conflicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl TEXT NOT NULL,
    row_id TEXT NOT NULL,
    field TEXT NOT NULL,
    kept_value TEXT,             -- JSON
    kept_clock TEXT,
    lost_value TEXT,             -- JSON
    lost_clock TEXT,
    detected_at TEXT NOT NULL,
    resolved_at TEXT,
    resolution TEXT
);
CREATE INDEX conflicts_open ON conflicts (resolved_at);
