-- Single sign-on through the company's OpenID Connect provider (dashboard/oidc.py): one row per sign-in
-- on its way through the provider, from the sign-in form's POST to the callback, which deletes it. Rows
-- older than ten minutes are worthless and are swept when new ones are made.
CREATE TABLE oidc_logins (
    state_hash    bytea PRIMARY KEY CHECK (octet_length(state_hash) = 32),  -- SHA-256 of `state`
    tenant_id     text NOT NULL,
    nonce         text NOT NULL,
    code_verifier text NOT NULL,              -- PKCE (RFC 7636), sent with the code to the token endpoint
    redirect_uri  text NOT NULL,              -- sent again, identical, with the code
    created_at    timestamptz NOT NULL
);
CREATE INDEX oidc_logins_created ON oidc_logins (created_at);
