//! The tables, written by hand so that one definition serves both backends. Keep each in step
//! with `migrations/`: the test `live_schema_matches_schema_rs` (crates/store/tests) compares
//! them on both backends.

diesel::table! {
    audit_events (id) {
        id -> Text,
        occurred_at -> BigInt,
        kind -> Text,
        actor -> Nullable<Text>,
        ip -> Nullable<Text>,
        detail -> Text,
        org_id -> Nullable<Text>,
        outcome -> Text,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        secret_hash -> Nullable<Text>,
        registration_token_hash -> Nullable<Text>,
        auth_method -> Text,
        metadata -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        first_party -> Bool,
    }
}

diesel::table! {
    initial_access_tokens (token_hash) {
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        uses_left -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_key -> Text,
        public_jwk -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
        sealed -> Bool,
        signs_from -> BigInt,
        successor_of -> Nullable<Text>,
    }
}

diesel::table! {
    dpop_proofs (proof_hash) {
        proof_hash -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        email_normalized -> Text,
        name -> Text,
        password_hash -> Text,
        email_verified -> Bool,
        disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        admin -> Bool,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        secret_hash -> Text,
        user_id -> Text,
        csrf_token -> Text,
        auth_time -> BigInt,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
        amr -> Text,
    }
}

diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        require_mfa -> Bool,
    }
}

diesel::table! {
    memberships (org_id, user_id) {
        org_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    invites (id) {
        id -> Text,
        org_id -> Text,
        email_normalized -> Text,
        role -> Text,
        token_hash -> Text,
        invited_by -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        accepted_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    refresh_families (id) {
        id -> Text,
        user_id -> Text,
        client_id -> Text,
        scope -> Nullable<Text>,
        auth_time -> BigInt,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
        resources -> Nullable<Text>,
        amr -> Text,
        dpop_jkt -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        family_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        access_jti -> Text,
        access_exp -> BigInt,
        successor -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_access_tokens (jti) {
        jti -> Text,
        family_id -> Text,
        exp -> BigInt,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        user_id -> Text,
        redirect_uri -> Text,
        redirect_uri_given -> Bool,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        resources -> Nullable<Text>,
        auth_time -> BigInt,
        session_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        family_id -> Nullable<Text>,
        access_jti -> Nullable<Text>,
        access_exp -> Nullable<BigInt>,
        amr -> Text,
        dpop_jkt -> Nullable<Text>,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        resources -> Nullable<Text>,
    }
}

diesel::table! {
    account_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        purpose -> Text,
        email -> Text,
        email_normalized -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    upstream_identities (id) {
        id -> Text,
        provider -> Text,
        issuer -> Text,
        subject -> Text,
        user_id -> Text,
        email -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    upstream_requests (state_hash) {
        state_hash -> Text,
        browser_hash -> Text,
        provider -> Text,
        nonce -> Text,
        pkce_sealed -> Text,
        return_to -> Text,
        link_user_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(memberships -> organizations (org_id));
diesel::joinable!(refresh_tokens -> refresh_families (family_id));
diesel::allow_tables_to_appear_in_same_query!(audit_events, memberships);

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    organizations,
    memberships,
    invites,
    refresh_families,
    refresh_tokens
);

diesel::table! {
    api_keys (id) {
        id -> Text,
        org_id -> Text,
        created_by -> Text,
        name -> Text,
        scopes -> Text,
        lookup -> Text,
        secret_hash -> Text,
        previous_lookup -> Nullable<Text>,
        previous_hash -> Nullable<Text>,
        previous_expires_at -> Nullable<BigInt>,
        expires_at -> Nullable<BigInt>,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    agents (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        scopes -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    services (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        base_url -> Text,
        path_prefix -> Text,
        credential_kind -> Text,
        credential_name -> Text,
        credential_box -> Text,
        credential_hint -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    gateway_usage (id) {
        id -> Text,
        org_id -> Text,
        key_id -> Text,
        agent_id -> Text,
        service -> Text,
        endpoint -> Text,
        method -> Text,
        status -> BigInt,
        latency_ms -> BigInt,
        bytes_in -> BigInt,
        bytes_out -> BigInt,
        occurred_at -> BigInt,
        subject_id -> Nullable<Text>,
    }
}

diesel::table! {
    agent_clients (client_id) {
        client_id -> Text,
        agent_id -> Text,
        org_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    may_act (subject_id, actor_id) {
        subject_id -> Text,
        actor_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    totp_authenticators (user_id) {
        user_id -> Text,
        secret_sealed -> Text,
        created_at -> BigInt,
        confirmed_at -> Nullable<BigInt>,
        last_step -> BigInt,
    }
}

diesel::table! {
    recovery_codes (code_hash) {
        code_hash -> Text,
        user_id -> Text,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    mfa_challenges (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        amr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        failures -> Integer,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_id -> Text,
        credential_id -> Text,
        passkey -> Text,
        name -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    passkey_ceremonies (id_hash) {
        id_hash -> Text,
        kind -> Text,
        user_id -> Nullable<Text>,
        state -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    device_codes (device_code_hash) {
        device_code_hash -> Text,
        user_code_hash -> Text,
        client_id -> Text,
        scope -> Text,
        resources -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        poll_interval -> BigInt,
        last_poll_at -> Nullable<BigInt>,
        status -> Text,
        user_id -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        amr -> Nullable<Text>,
        session_id -> Nullable<Text>,
        decided_at -> Nullable<BigInt>,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    pushed_requests (request_hash) {
        request_hash -> Text,
        client_id -> Text,
        params -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        opened_at -> Nullable<BigInt>,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    protected_resources (id) {
        id -> Text,
        uri -> Text,
        name -> Text,
        scopes -> Text,
        access_token_ttl -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    session_clients (session_id, client_id) {
        session_id -> Text,
        client_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    client_assertions (client_id, jti) {
        client_id -> Text,
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    backchannel_logouts (id) {
        id -> Text,
        session_id -> Text,
        user_id -> Text,
        client_id -> Text,
        status -> Text,
        attempts -> BigInt,
        next_attempt_at -> BigInt,
        claimed_until -> Nullable<BigInt>,
        last_status -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    client_secrets_sealed (client_id) {
        client_id -> Text,
        sealed -> Text,
    }
}
