//! Crash safety of the real `portcullis` process: killed with SIGKILL in the middle of a write
//! load and started again on the same database, every write it acknowledged is there and works,
//! and nothing half-written is visible. Readiness follows a PostgreSQL outage without a
//! restart.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::{join, join_all};
use primitives::SecretHash;
use serde_json::{Value, json};

use crate::cluster::{Instance, PASSWORD, answer, http, report, signup, sleep_ms};
use store::Backend;
use store::testing::TestDb;

/// The kinds of write, as indices of `Load::acked`.
const SIGNUP: usize = 0;
const KEY: usize = 1;
const ROTATION: usize = 2;
/// Concurrent writers of each kind.
const SIGNUP_TASKS: usize = 2;
const KEY_TASKS: usize = 2;
const REFRESH_TASKS: usize = 3;
/// Refresh families rotated a fixed number of times, all before the kill: their newest tokens
/// had no rotation in flight, so each must rotate on the restarted process.
const QUIET_CHAINS: usize = 2;
const QUIET_ROTATIONS: usize = 10;
/// The load runs at least this long before the kill.
const LOAD_BEFORE_KILL: Duration = Duration::from_millis(1500);

/// What the load shares: where it writes, whether the process was killed, what went wrong.
struct Load {
    base: String,
    http: reqwest::Client,
    owner_token: String,
    org: String,
    killed: Cell<bool>,
    /// Acknowledged writes by kind (SIGNUP, KEY, ROTATION).
    acked: [Cell<usize>; 3],
    /// Quiet families done with their rotations.
    quiet_done: Cell<usize>,
    /// Failures seen before the kill: none is expected.
    unexpected: RefCell<Vec<String>>,
}

impl Load {
    fn ack(&self, kind: usize) {
        self.acked[kind].set(self.acked[kind].get() + 1);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Whether a request that got no success ends this writer quietly (the process was killed:
    /// its answer was lost) or is a failure of its own.
    fn failed(&self, what: &str, outcome: Result<(u16, Value), String>) -> bool {
        if self.killed.get() {
            return true;
        }
        self.unexpected
            .borrow_mut()
            .push(format!("{what}: {outcome:?}"));
        false
    }
}

/// A writer's acknowledged writes, and whether a request of its own was in flight at the kill
/// (its write may or may not have been committed; its answer was lost).
struct Writes<T> {
    acked: Vec<T>,
    in_flight_at_kill: bool,
}

struct SignedUp {
    email: String,
    org: String,
}

struct CreatedKey {
    id: String,
    key: String,
}

async fn signups(load: &Load, task: usize) -> Writes<SignedUp> {
    let mut acked = Vec::new();
    let mut n = 0_usize;
    loop {
        if load.killed.get() {
            return Writes {
                acked,
                in_flight_at_kill: false,
            };
        }
        let email = format!("user-{task}-{n}@crash.test");
        let outcome = answer(
            load.http
                .post(load.url("/api/v1/auth/signup"))
                .json(&json!({ "email": email, "password": PASSWORD, "name": "Crash" })),
        )
        .await;
        match outcome {
            Ok((201, body)) => {
                let org = body["organization"]["id"].as_str().expect("org").to_owned();
                acked.push(SignedUp { email, org });
                load.ack(SIGNUP);
                n += 1;
            }
            other => {
                let in_flight_at_kill = load.failed("signup", other);
                return Writes {
                    acked,
                    in_flight_at_kill,
                };
            }
        }
    }
}

async fn key_creations(load: &Load, task: usize) -> Writes<CreatedKey> {
    let mut acked = Vec::new();
    let mut n = 0_usize;
    loop {
        if load.killed.get() {
            return Writes {
                acked,
                in_flight_at_kill: false,
            };
        }
        let outcome = answer(
            load.http
                .post(load.url(&format!("/api/v1/organizations/{}/api-keys", load.org)))
                .bearer_auth(&load.owner_token)
                .json(&json!({ "name": format!("key-{task}-{n}"), "scopes": ["org:read"] })),
        )
        .await;
        match outcome {
            Ok((201, body)) => {
                acked.push(CreatedKey {
                    id: body["id"].as_str().expect("id").to_owned(),
                    key: body["key"].as_str().expect("key").to_owned(),
                });
                load.ack(KEY);
                n += 1;
            }
            other => {
                let in_flight_at_kill = load.failed("API key creation", other);
                return Writes {
                    acked,
                    in_flight_at_kill,
                };
            }
        }
    }
}

/// Rotates one refresh-token family again and again (at most `limit` times); `acked` holds the
/// family's tokens in order, from the one sign-up gave to the newest acknowledged.
async fn rotations(load: &Load, first: String, limit: Option<usize>) -> Writes<String> {
    let mut acked = vec![first];
    loop {
        if limit.is_some_and(|l| acked.len() > l) {
            load.quiet_done.set(load.quiet_done.get() + 1);
            return Writes {
                acked,
                in_flight_at_kill: false,
            };
        }
        if load.killed.get() {
            return Writes {
                acked,
                in_flight_at_kill: false,
            };
        }
        let newest = acked.last().expect("a token").clone();
        let outcome = answer(
            load.http
                .post(load.url("/api/v1/auth/refresh"))
                .json(&json!({ "refreshToken": newest })),
        )
        .await;
        match outcome {
            Ok((200, body)) => {
                acked.push(body["refreshToken"].as_str().expect("refresh").to_owned());
                load.ack(ROTATION);
            }
            other => {
                let in_flight_at_kill = load.failed("refresh", other);
                return Writes {
                    acked,
                    in_flight_at_kill,
                };
            }
        }
    }
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    i64::try_from(secs).expect("seconds")
}

mod acknowledged_writes_survive_a_sigkill {
    use super::*;

    #[actix_web::test]
    async fn sqlite() {
        sigkill_in_the_middle_of_writes(TestDb::sqlite()).await
    }

    #[actix_web::test]
    async fn postgres() {
        sigkill_in_the_middle_of_writes(TestDb::postgres()).await
    }
}

/// Starts a process, runs the write load, SIGKILLs the process in the middle of it, starts a
/// new one on the same database and checks every acknowledged write.
async fn sigkill_in_the_middle_of_writes(db: TestDb) {
    let label = match db.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let settings = [
        ("PORTCULLIS_DATABASE_POOL_SIZE", "8"),
        ("PORTCULLIS_REFRESH_GRACE", "0"),
    ];
    let mut first = Instance::start(db.url(), &settings).await;
    let client = http();
    let owner = signup(&client, &first, "owner@crash.test").await;
    let mut chain_starts = Vec::new();
    for i in 0..REFRESH_TASKS + QUIET_CHAINS {
        let body = signup(&client, &first, &format!("chain-{i}@crash.test")).await;
        chain_starts.push(body["refreshToken"].as_str().expect("refresh").to_owned());
    }
    let setup_users = 1 + REFRESH_TASKS + QUIET_CHAINS;
    let load = Load {
        base: first.base.clone(),
        http: client.clone(),
        owner_token: owner["token"].as_str().expect("token").to_owned(),
        org: owner["organization"]["id"]
            .as_str()
            .expect("org")
            .to_owned(),
        killed: Cell::new(false),
        acked: Default::default(),
        quiet_done: Cell::new(0),
        unexpected: RefCell::new(Vec::new()),
    };

    // The load, and beside it the kill: once LOAD_BEFORE_KILL has passed, every kind of write
    // has been acknowledged a few times and the quiet families are done (or after a minute
    // at most), SIGKILL with a request of every other writer in flight.
    let started = Instant::now();
    let writers =
        join(
            join(
                join_all((0..SIGNUP_TASKS).map(|t| signups(&load, t))),
                join_all((0..KEY_TASKS).map(|t| key_creations(&load, t))),
            ),
            join_all(chain_starts.into_iter().enumerate().map(|(i, t)| {
                rotations(&load, t, (i >= REFRESH_TASKS).then_some(QUIET_ROTATIONS))
            })),
        );
    let killer = async {
        while started.elapsed() < LOAD_BEFORE_KILL
            || ((load.acked.iter().any(|n| n.get() < 3) || load.quiet_done.get() < QUIET_CHAINS)
                && started.elapsed() < Duration::from_secs(60))
        {
            sleep_ms(20).await;
        }
        load.killed.set(true);
        first.kill();
    };
    let (((users, keys), chains), ()) = join(writers, killer).await;
    let unexpected = load.unexpected.borrow().clone();
    assert!(
        unexpected.is_empty(),
        "failures before the kill: {unexpected:?}\n{}",
        first.log_tail()
    );

    let users_acked: usize = users.iter().map(|w| w.acked.len()).sum();
    let keys_acked: usize = keys.iter().map(|w| w.acked.len()).sum();
    let rotations_acked: usize = chains.iter().map(|w| w.acked.len() - 1).sum();
    let acked = users_acked + keys_acked + rotations_acked;
    assert_eq!(acked, load.acked.iter().map(Cell::get).sum::<usize>());
    assert!(
        users_acked > 0 && keys_acked > 0 && rotations_acked > 0,
        "a load of every kind ran before the kill: {users_acked} {keys_acked} {rotations_acked}"
    );

    // The same database, a new process.
    let second = Instance::start(db.url(), &settings).await;
    assert_eq!(
        answer(client.get(second.url("/health/ready")))
            .await
            .expect("ready")
            .0,
        200
    );
    let mut lost: Vec<String> = Vec::new();
    let mut found = 0;

    // Every acknowledged sign-up: the user signs in and owns their organization.
    for u in users.iter().flat_map(|w| &w.acked) {
        let (status, body) = answer(
            client
                .post(second.url("/api/v1/auth/login"))
                .json(&json!({ "email": u.email, "password": PASSWORD })),
        )
        .await
        .expect("login");
        if status != 200 {
            lost.push(format!("user {}: login {status} {body}", u.email));
            continue;
        }
        let token = body["token"].as_str().expect("token");
        let (status, me) = answer(client.get(second.url("/api/v1/me")).bearer_auth(token))
            .await
            .expect("me");
        assert_eq!(status, 200, "{me}");
        let owns = me["organizations"]
            .as_array()
            .expect("orgs")
            .iter()
            .any(|o| o["id"] == u.org.as_str() && o["role"] == "owner");
        if owns {
            found += 1;
        } else {
            lost.push(format!(
                "user {}: no owner membership of {}: {me}",
                u.email, u.org
            ));
        }
    }

    // Every acknowledged key authenticates.
    let org_path = format!("/api/v1/organizations/{}", load.org);
    for k in keys.iter().flat_map(|w| &w.acked) {
        let (status, body) = answer(
            client
                .get(second.url(&org_path))
                .header("x-api-key", &k.key),
        )
        .await
        .expect("key use");
        if status == 200 {
            found += 1;
        } else {
            lost.push(format!("key {}: {status} {body}", k.id));
        }
    }

    // Every acknowledged rotation is there: each token it returned exists in the right
    // family, and all but the newest are marked used. The newest acknowledged token is the
    // subtle one. The writer had its next rotation of it in flight when the process died,
    // and the server may have committed that rotation before the kill and lost only the
    // answer. Then the newest acknowledged token is used (presenting it again would be a
    // replay, which revokes the family: correct, and no lost write), and the family holds
    // exactly one token more than the writer saw. Otherwise it is unused, the family holds
    // exactly the tokens the writer saw, and it rotates on the new process. Either way
    // nothing acknowledged is lost and no rotation happened twice.
    let now = unix_now();
    let mut superseded = 0;
    let mut rotated_after_restart = 0;
    {
        let mut conn = db.store().conn().expect("conn");
        for (c, chain) in chains.iter().enumerate() {
            let rows: Vec<_> = chain
                .acked
                .iter()
                .map(|t| {
                    store::accounts::find_refresh_token(&mut conn, SecretHash::of(t).as_str())
                        .expect("query")
                })
                .collect();
            let family = rows[0].as_ref().expect("the chain's first token").1.clone();
            assert!(
                family.revoked_at.is_none(),
                "chain {c}: family revoked: {family:?}"
            );
            for (i, row) in rows.iter().enumerate().skip(1) {
                match row {
                    Some((token, fam)) if fam.id == family.id => {
                        let newest = i == rows.len() - 1;
                        assert!(
                            newest || token.used_at.is_some(),
                            "chain {c}: token {i} was rotated but is unused"
                        );
                        found += 1;
                    }
                    other => lost.push(format!("chain {c}: rotation {i}: {other:?}")),
                }
            }
            // Every refresh token of the family, counted by the access tokens issued with
            // them (all live: they last an hour).
            let in_family =
                store::accounts::live_access_tokens_of_family(&mut conn, &family.id, now)
                    .expect("query")
                    .len();
            let newest = rows.last().and_then(|r| r.as_ref()).expect("newest token");
            if newest.0.used_at.is_some() {
                assert!(
                    chain.in_flight_at_kill,
                    "chain {c}: the newest acknowledged token is used, yet no rotation of it was in flight"
                );
                assert_eq!(
                    in_family,
                    chain.acked.len() + 1,
                    "chain {c}: one unacknowledged rotation committed"
                );
                superseded += 1;
            } else {
                assert_eq!(
                    in_family,
                    chain.acked.len(),
                    "chain {c}: no rotation beyond the acknowledged ones"
                );
            }
        }
    }
    for (c, chain) in chains.iter().enumerate() {
        let newest = chain.acked.last().expect("token");
        let mut conn = db.store().conn().expect("conn");
        let (token, _) =
            store::accounts::find_refresh_token(&mut conn, SecretHash::of(newest).as_str())
                .expect("query")
                .expect("row");
        drop(conn);
        if token.used_at.is_none() {
            let (status, body) = answer(
                client
                    .post(second.url("/api/v1/auth/refresh"))
                    .json(&json!({ "refreshToken": newest })),
            )
            .await
            .expect("refresh");
            assert_eq!(
                status, 200,
                "chain {c}: the newest acknowledged token rotates after the restart: {body}"
            );
            rotated_after_restart += 1;
        }
    }

    // Nothing half-written: every user in the database (acknowledged or not) has an
    // organization they own; every key row of the organization, acknowledged or not, is
    // whole; at most one unacknowledged write per writer in flight was committed.
    let (users_in_db, keys_in_db) = {
        let mut conn = db.store().conn().expect("conn");
        let all = store::accounts::list_users(&mut conn).expect("users");
        for user in &all {
            let orgs = store::accounts::orgs_of_user(&mut conn, &user.id).expect("orgs");
            assert!(
                orgs.iter().any(|(_, role)| role == "owner"),
                "{user:?} owns no organization: {orgs:?}"
            );
            for (org, _) in &orgs {
                assert!(
                    store::accounts::count_owners(&mut conn, &org.id).expect("owners") >= 1,
                    "{org:?}"
                );
            }
        }
        let rows = store::apikeys::keys_of_org(&mut conn, &load.org).expect("keys");
        for row in &rows {
            assert!(
                store::accounts::find_org(&mut conn, &row.org_id)
                    .expect("org")
                    .is_some(),
                "{row:?}"
            );
            assert!(
                !row.secret_hash.is_empty() && !row.lookup.is_empty(),
                "{row:?}"
            );
        }
        for k in keys.iter().flat_map(|w| &w.acked) {
            assert!(
                rows.iter().any(|r| r.id == k.id),
                "key {} is not in its organization",
                k.id
            );
        }
        (all.len(), rows.len())
    };
    let users_in_flight = users.iter().filter(|w| w.in_flight_at_kill).count();
    let keys_in_flight = keys.iter().filter(|w| w.in_flight_at_kill).count();
    let extra_users = users_in_db
        .checked_sub(setup_users + users_acked)
        .expect("fewer users than acknowledged");
    let extra_keys = keys_in_db
        .checked_sub(keys_acked)
        .expect("fewer keys than acknowledged");
    assert!(
        extra_users <= users_in_flight,
        "{extra_users} users beyond the acknowledged, {users_in_flight} sign-ups in flight"
    );
    assert!(
        extra_keys <= keys_in_flight,
        "{extra_keys} keys beyond the acknowledged, {keys_in_flight} creations in flight"
    );

    report(&format!(
        "crash({label}): {acked} writes acknowledged before SIGKILL ({users_acked} sign-ups, \
         {keys_acked} API keys, {rotations_acked} refresh rotations), {found} found after \
         restart, {} lost; {} unacknowledged writes committed (answers lost in the kill: \
         {extra_users} sign-ups, {extra_keys} keys, {superseded} rotations); {rotated_after_restart} \
         of {} refresh families rotated again after the restart",
        acked.saturating_sub(found),
        extra_users + extra_keys + superseded,
        chains.len()
    ));
    assert!(
        lost.is_empty(),
        "acknowledged writes lost: {lost:?}\n{}",
        second.log_tail()
    );
    assert_eq!(found, acked);
    assert_eq!(rotated_after_restart + superseded, chains.len());
    assert!(
        rotated_after_restart >= QUIET_CHAINS,
        "the quiet families rotate after the restart"
    );
}

/// A private PostgreSQL cluster (`scripts/pg-cluster`), stopped and removed when dropped. The
/// shared cluster of `PORTCULLIS_TEST_POSTGRES_URL` is never touched.
struct PrivateCluster {
    dir: PathBuf,
    url: String,
    _root: tempfile::TempDir,
}

fn pg_cluster(command: &str, dir: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-cluster");
    let out = Command::new(script)
        .arg(command)
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/pg-cluster");
    assert!(
        out.status.success(),
        "pg-cluster {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl PrivateCluster {
    fn start() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        // Under root the server runs as the `postgres` user, which must reach the folder.
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        let dir = root.path().join("pg");
        let out = pg_cluster("start", &dir);
        let url = out
            .trim()
            .strip_prefix("export PORTCULLIS_TEST_POSTGRES_URL=")
            .unwrap_or_else(|| panic!("pg-cluster start printed {out:?}"))
            .to_owned();
        Self {
            dir,
            url,
            _root: root,
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-cluster");
        let _ = Command::new(script)
            .arg("stop")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .output();
    }
}

async fn ready_status(client: &reqwest::Client, inst: &Instance) -> u16 {
    answer(client.get(inst.url("/health/ready")))
        .await
        .expect("readiness")
        .0
}

/// Polls readiness until it answers `want`; returns how long that took.
async fn ready_becomes(client: &reqwest::Client, inst: &Instance, want: u16) -> Duration {
    let start = Instant::now();
    loop {
        if ready_status(client, inst).await == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "/health/ready never answered {want}:\n{}",
            inst.log_tail()
        );
        sleep_ms(100).await;
    }
}

#[actix_web::test]
async fn readiness_follows_postgres_going_down_and_coming_back() {
    let cluster = PrivateCluster::start();
    let mut inst = Instance::start(&cluster.url, &[]).await;
    let client = http();
    assert_eq!(ready_status(&client, &inst).await, 200);
    signup(&client, &inst, "before@example.com").await;

    pg_cluster("pause", &cluster.dir);
    let down = ready_becomes(&client, &inst, 503).await;
    // Liveness does not depend on the database, and readiness stays 503 while it is down.
    for _ in 0..3 {
        assert_eq!(
            answer(client.get(inst.url("/health")))
                .await
                .expect("health")
                .0,
            200
        );
        assert_eq!(ready_status(&client, &inst).await, 503);
    }

    pg_cluster("resume", &cluster.dir);
    let up = ready_becomes(&client, &inst, 200).await;
    assert!(
        inst.is_running(),
        "the same process serves again, never restarted"
    );
    // The pool works again: a write, and a read of what was written before the outage.
    signup(&client, &inst, "after@example.com").await;
    let (status, _) = answer(
        client
            .post(inst.url("/api/v1/auth/login"))
            .json(&json!({ "email": "before@example.com", "password": PASSWORD })),
    )
    .await
    .expect("login");
    assert_eq!(status, 200);
    report(&format!(
        "crash(postgres): /health/ready 503 {:.1} s after PostgreSQL stopped, 200 again {:.1} s \
         after it came back, the same portcullis process throughout",
        down.as_secs_f64(),
        up.as_secs_f64()
    ));
}
