-- The dashboard's own tables: its users, their server-side sessions, the sign-in throttle and the audit
-- log. Nothing here belongs to another process (tenants and secrets are the gateway's).

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    tenant_id     text NOT NULL,
    email         text NOT NULL,               -- normalised (common.normalize.email)
    password_hash text NOT NULL,               -- Argon2id, PHC string form ($argon2id$v=19$...)
    role          text NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at    timestamptz NOT NULL,
    disabled_at   timestamptz,
    UNIQUE (tenant_id, email)
);

-- The cookie holds a random token; only its SHA-256 is kept, so a copy of this table opens no session.
CREATE TABLE sessions (
    token_hash   bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id      bigint NOT NULL REFERENCES users (id),
    csrf_token   text NOT NULL,
    lang         text NOT NULL CHECK (lang IN ('es', 'en')),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Sign-in failures by subject: an account (tenant + e-mail, known or not, so that a lockout does not tell
-- which accounts exist) or a client address. The subject is kept as its SHA-256 only.
CREATE TABLE login_throttle (
    subject_hash     bytea PRIMARY KEY CHECK (octet_length(subject_hash) = 32),
    kind             text NOT NULL CHECK (kind IN ('account', 'address')),
    failures         integer NOT NULL,
    first_failure_at timestamptz NOT NULL,
    locked_until     timestamptz
);
CREATE INDEX login_throttle_first_failure ON login_throttle (first_failure_at);

-- Who changed what, and when. `details` never holds a secret, a password or a token (dashboard/audit.py).
CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    tenant_id text NOT NULL,
    user_id   bigint REFERENCES users (id),      -- NULL when the actor is not a dashboard user
    actor     text NOT NULL,                     -- 'user:<id> <email>' or 'cli:<name>'
    action    text NOT NULL,
    target    text NOT NULL DEFAULT '',
    details   jsonb NOT NULL DEFAULT '{}'::jsonb,
    at        timestamptz NOT NULL
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at DESC, id DESC);
