//! The tables, written by hand so that one definition serves both backends. Keep each in step
//! with `migrations/sqlite` and `migrations/postgres`.

diesel::table! {
    audit_events (id) {
        id -> Text,
        occurred_at -> BigInt,
        kind -> Text,
        actor -> Nullable<Text>,
        ip -> Nullable<Text>,
        detail -> Text,
    }
}
