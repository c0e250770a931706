//! The embedded database: one SQLite file in WAL mode, written by a single group-committing
//! writer thread.
//!
//! Every write in the embedded deployment (queue rows, message records, balances, key/values)
//! is a closure sent to the writer. The writer takes the first pending closure, drains whatever
//! else is waiting (up to `group_commit_max`), runs them all in one transaction, commits once
//! (with `synchronous=FULL` that is one fsync for the whole group), and only then answers each
//! caller. So a caller that got its answer knows its write is durable, and throughput grows with
//! concurrency instead of being capped by fsync latency.

use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::thread;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

/// Errors from the embedded database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database writer has stopped")]
    Closed,
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The group this write was in could not be committed (a full disk...): nothing of it was
    /// written.
    #[error("commit failed: {0}")]
    NotCommitted(String),
    /// The write-ahead log is damaged: opening it would drop committed writes.
    #[error(transparent)]
    DamagedWal(#[from] crate::wal_check::DamagedWal),
    /// The file was written by a newer smsgate: opening it could lose what that one stored.
    #[error("database schema {found} was written by a newer smsgate (this build reads up to {known}): run that version, or restore a backup taken with this one")]
    NewerSchema { found: i64, known: i64 },
}

/// The database layout this build writes (SQLite's `user_version`). A change to a table adds
/// a step to [`MIGRATIONS`] and raises it; older files are brought up to date when opened,
/// newer ones are refused.
pub const SCHEMA_VERSION: i64 = 2;

/// Step `i` takes a file from version `i` to `i + 1`. Version 0 is a file from before the
/// versioning (release 0.1.0): its tables are those of [`SCHEMA`], created if missing, so its
/// step has nothing to change.
///
/// Version 2 keeps the delivery records (`messages`) in one b-tree keyed by the message id
/// (`WITHOUT ROWID`) instead of a rowid table plus the id's index: one b-tree insert per
/// record instead of two (10.67 -> 9.56 WAL frames per commit of 25 new and 25 updated
/// records, 10% less disk for the table).
const MIGRATIONS: &[&str] = &[
    "",
    r#"
CREATE TABLE IF NOT EXISTS messages (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    connector   TEXT NOT NULL,
    smsc_id     TEXT,
    detail      TEXT,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE messages_v2 (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    connector   TEXT NOT NULL,
    smsc_id     TEXT,
    detail      TEXT,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO messages_v2 (id, status, connector, smsc_id, detail, updated_at)
    SELECT id, status, connector, smsc_id, detail, updated_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v2 RENAME TO messages;
CREATE INDEX messages_by_age ON messages(updated_at)
"#,
];

/// The schema version of an open database.
pub fn schema_version(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Bring `conn`'s file up to [`SCHEMA_VERSION`], each step in its own transaction; refuse a
/// newer one.
fn migrate(conn: &Connection) -> Result<(), DbError> {
    let found = schema_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(DbError::NewerSchema {
            found,
            known: SCHEMA_VERSION,
        });
    }
    let fresh: bool = conn.query_row("SELECT count(*) = 0 FROM sqlite_master", [], |r| r.get(0))?;
    if fresh {
        // A new file: today's layout at once, nothing to upgrade.
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        ))?;
        return Ok(());
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        conn.execute_batch(&format!(
            "BEGIN; {step}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))?;
        tracing::info!(from = i, to = i + 1, "database schema upgraded");
    }
    Ok(())
}

/// Called once the group is committed, or with the error that kept it from committing.
type Reply = Box<dyn FnOnce(Option<&rusqlite::Error>) + Send>;
/// A write: runs on the writer thread, says whether it succeeded, and returns the reply to
/// send once the group is committed.
type Run = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

/// A write sent to the writer thread.
struct Job {
    run: Run,
    /// Run inside its own savepoint: needed when the closure may run several statements
    /// (one failing must not leave the others' changes behind). A single statement is
    /// atomic by itself, and a savepoint costs a copy of every page it touches.
    savepoint: bool,
}

/// Handle to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    tx: std_mpsc::Sender<Job>,
    trouble: std::sync::Arc<Trouble>,
}

/// How long a write that failed for want of disk keeps the database reported unhealthy.
pub const TROUBLE_WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

/// The last write that failed for want of disk: (when, the error).
#[derive(Default)]
struct Trouble(parking_lot::Mutex<Option<(std::time::Instant, String)>>);

impl Trouble {
    /// Note `e` when it says the disk cannot take the write (full, read-only, I/O error).
    fn note(&self, e: &rusqlite::Error) {
        use rusqlite::ErrorCode::*;
        if let rusqlite::Error::SqliteFailure(f, _) = e {
            if matches!(
                f.code,
                DiskFull | SystemIoFailure | ReadOnly | CannotOpen | DatabaseCorrupt
            ) {
                let first = self
                    .0
                    .lock()
                    .replace((std::time::Instant::now(), e.to_string()));
                if first.is_none_or(|(at, _)| at.elapsed() > TROUBLE_WINDOW) {
                    tracing::error!(error = %e, "the database cannot write: new messages are refused until it can");
                }
            }
        }
    }
}

impl Db {
    /// Open (or create) the database file and start the writer thread.
    pub fn open(path: &Path, sync_full: bool, group_commit_max: usize) -> Result<Db, DbError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Before SQLite's recovery, which would silently drop what follows a damaged frame.
        crate::wal_check::check(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(
            None,
            "synchronous",
            if sync_full { "FULL" } else { "NORMAL" },
        )?;
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        // 2 MB of page cache: the hot pages are the tails of the queue and record tables (4 MB
        // held 2 MB more under load for no gain in rate or CPU; a backlog's pages are read
        // through the OS's cache either way).
        conn.pragma_update(None, "cache_size", -2000)?;
        // Checkpoints run on their own connection and thread (below), not inline in the
        // writer's commits, where they stalled every write behind them.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // When the WAL restarts (see `checkpoint`) it is cut back to 64 MB.
        conn.pragma_update(None, "journal_size_limit", 64i64 << 20)?;
        // A restarting checkpoint holds the write lock for a moment: wait for it.
        conn.busy_handler(Some(wait_a_millisecond))?;
        migrate(&conn)?;
        conn.execute_batch(SCHEMA)?;
        let ckpt = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        ckpt.busy_handler(Some(wait_a_millisecond))?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, rx) = std_mpsc::channel::<Job>();
        let max = group_commit_max.max(1);
        let stop_w = stop.clone();
        let trouble = std::sync::Arc::new(Trouble::default());
        let trouble_w = trouble.clone();
        thread::Builder::new()
            .name("smsgate-db".into())
            .spawn(move || {
                writer_loop(conn, rx, max, &trouble_w);
                stop_w.store(true, std::sync::atomic::Ordering::Relaxed);
            })?;
        thread::Builder::new()
            .name("smsgate-ckpt".into())
            .spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    thread::sleep(CHECKPOINT_EVERY);
                    checkpoint(&ckpt);
                }
            })?;
        Ok(Db { tx, trouble })
    }

    /// Why the database could not write lately (a write failed for want of disk within the
    /// last [`TROUBLE_WINDOW`]), if it could not: what readiness reports.
    pub fn write_trouble(&self) -> Option<String> {
        let t = self.trouble.0.lock();
        let (at, e) = t.as_ref()?;
        let ago = at.elapsed();
        (ago <= TROUBLE_WINDOW).then(|| format!("cannot write: {e} ({} s ago)", ago.as_secs()))
    }

    /// Run `f` inside the next group commit and return its result once committed. If `f`
    /// fails, none of its changes are kept (it runs in its own savepoint).
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        self.send_write(f, true).await
    }

    /// [`Db::write`] for a closure that runs one statement at most (on the hot path: a
    /// statement is atomic by itself, so no savepoint is taken around it).
    pub async fn write_statement<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        self.send_write(f, false).await
    }

    async fn send_write<T, F>(&self, f: F, savepoint: bool) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let (otx, orx) = oneshot::channel::<Result<T, DbError>>();
        let run: Run = Box::new(move |conn: &Connection| {
            let r = f(conn).map_err(DbError::from);
            let ok = r.is_ok();
            let reply: Reply = Box::new(move |not_committed: Option<&rusqlite::Error>| {
                let _ = otx.send(match not_committed {
                    Some(e) => Err(DbError::NotCommitted(e.to_string())),
                    None => r,
                });
            });
            (ok, reply)
        });
        self.tx
            .send(Job { run, savepoint })
            .map_err(|_| DbError::Closed)?;
        let r = orx.await.unwrap_or(Err(DbError::Closed));
        // A statement that failed for want of disk (the commit's own failures are noted by
        // the writer): noted here, off the writer thread and without a clone per write.
        if let Err(DbError::Sqlite(e)) = &r {
            self.trouble.note(e);
        }
        r
    }

    /// Run `f` on the writer thread without waiting for the commit (fire and forget).
    /// Used for writes whose loss in a crash is harmless (e.g. pruning).
    pub fn write_detached<F>(&self, f: F)
    where
        F: FnOnce(&Connection) -> Result<(), rusqlite::Error> + Send + 'static,
    {
        let run: Run = Box::new(move |conn: &Connection| {
            let r = f(conn);
            if let Err(e) = &r {
                tracing::warn!(error = %e, "detached database write failed");
            }
            let reply: Reply = Box::new(|_| {});
            (r.is_ok(), reply)
        });
        let _ = self.tx.send(Job {
            run,
            savepoint: true,
        });
    }
}

fn writer_loop(conn: Connection, rx: std_mpsc::Receiver<Job>, max: usize, trouble: &Trouble) {
    let mut batch: Vec<Job> = Vec::with_capacity(max);
    let mut replies: Vec<Reply> = Vec::with_capacity(max);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < max {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut begun = conn.execute_batch("BEGIN IMMEDIATE");
        for _ in 0..50 {
            if begun.is_ok() {
                break;
            }
            thread::sleep(std::time::Duration::from_millis(20));
            begun = conn.execute_batch("BEGIN IMMEDIATE");
        }
        if let Err(e) = begun {
            trouble.note(&e);
            // Callers get `Closed`: nothing of this group was written.
            tracing::error!(error = %e, "database BEGIN failed: dropping a group of writes");
            batch.clear();
            continue;
        }
        for job in batch.drain(..) {
            // Each write of several statements in its own savepoint: one that fails leaves
            // nothing half-done behind while the rest of the group commits.
            if !job.savepoint {
                let (_, reply) = (job.run)(&conn);
                replies.push(reply);
                continue;
            }
            let _ = run_cached(&conn, "SAVEPOINT job");
            let (ok, reply) = (job.run)(&conn);
            if !ok {
                let _ = run_cached(&conn, "ROLLBACK TO job");
            }
            let _ = run_cached(&conn, "RELEASE job");
            replies.push(reply);
        }
        let mut commit = conn.execute_batch("COMMIT");
        let mut attempts = 0;
        let mut failed = None;
        while let Err(e) = &commit {
            // COMMIT can fail transiently (SQLITE_BUSY on a checkpoint): retry, never answer
            // "committed" for a write that is not.
            attempts += 1;
            trouble.note(e);
            if attempts == 1 {
                tracing::error!(error = %e, "database COMMIT failed, retrying");
            }
            if attempts >= 50 {
                tracing::error!(error = %e, attempts, "database COMMIT still failing: the group's writes are refused");
                // Give up: roll back, and tell every caller (never "committed").
                let _ = conn.execute_batch("ROLLBACK");
                failed = commit.err();
                break;
            }
            thread::sleep(std::time::Duration::from_millis(20));
            commit = conn.execute_batch("COMMIT");
        }
        for reply in replies.drain(..) {
            reply(failed.as_ref());
        }
    }
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
}

/// Busy handler of both connections: poll the lock every millisecond, for two seconds at
/// most. SQLite's own backs off up to 100 ms between attempts, which turned a lock held for a
/// few milliseconds into a stall of a hundred.
fn wait_a_millisecond(attempts: i32) -> bool {
    if attempts >= 2000 {
        return false;
    }
    thread::sleep(std::time::Duration::from_millis(1));
    true
}

/// How often the WAL is copied into the database. Each checkpoint ends with an fsync of the
/// database file, and a commit's own flush waits behind the pages that fsync sends to the
/// disk: copying every 50 ms instead of every 200 ms sends a quarter as many at a time
/// (`/send` at 10,000/s: longest commit per half second 4.4-5.0 -> 3.4-3.7 ms, p99 4.4-4.5 ->
/// 2.9-3.4 ms; no change at full load, where the hot pages are the same few).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// WAL frames (4 KB pages) past which a checkpoint also restarts the WAL.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// Copy the WAL into the database without blocking the writer (passive). Under a sustained
/// write load a passive checkpoint never reaches the WAL's end, so the WAL would grow for as
/// long as the load lasts (about 2 KB per message accepted). Past 64 MB, once a passive
/// checkpoint has copied everything up to where it started, the WAL is restarted: that holds
/// the writer only while the few frames written since are copied (restarting with more to
/// copy stalled writes for ~100 ms).
fn checkpoint(c: &Connection) {
    let r = c
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })
        .and_then(|(frames, copied)| {
            if frames > WAL_RESTART_FRAMES && copied == frames {
                c.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
            } else {
                Ok(())
            }
        });
    if let Err(e) = r {
        tracing::warn!(error = %e, "WAL checkpoint failed");
    }
}

/// Run a parameterless statement from the statement cache (no re-parse on the hot path).
fn run_cached(conn: &Connection, sql: &str) -> Result<usize, rusqlite::Error> {
    conn.prepare_cached(sql)?.execute([])
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS queue (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    queue       TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    not_before  INTEGER NOT NULL,
    deliveries  INTEGER NOT NULL DEFAULT 0,
    body        BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_by_name ON queue(queue, id);
CREATE TABLE IF NOT EXISTS messages (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    connector   TEXT NOT NULL,
    smsc_id     TEXT,
    detail      TEXT,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_age ON messages(updated_at);
CREATE TABLE IF NOT EXISTS kv (
    key         TEXT PRIMARY KEY,
    value       BLOB NOT NULL,
    expires_at  INTEGER
);
CREATE TABLE IF NOT EXISTS counters (
    key         TEXT PRIMARY KEY,
    value       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS balances (
    username    TEXT PRIMARY KEY,
    balance     REAL,
    sms_count   INTEGER
);
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// The delivery records as version 1 kept them (a rowid table and the id's index).
    const MESSAGES_V1: &str = "CREATE TABLE messages (
        id TEXT PRIMARY KEY, status TEXT NOT NULL, connector TEXT NOT NULL, smsc_id TEXT,
        detail TEXT, updated_at INTEGER NOT NULL);
        CREATE INDEX messages_by_age ON messages(updated_at);";

    fn messages_sql(c: &Connection) -> String {
        c.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'messages'",
            [],
            |r| r.get(0),
        )
        .expect("messages table")
    }

    #[test]
    fn a_version_1_file_keeps_its_records_in_the_new_layout() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("smsgate.db");
        let c = Connection::open(&path).expect("open");
        c.execute_batch(&format!(
            "{MESSAGES_V1}
             CREATE TABLE queue (id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL,
                priority INTEGER NOT NULL, owner TEXT NOT NULL, not_before INTEGER NOT NULL,
                deliveries INTEGER NOT NULL DEFAULT 0, body BLOB NOT NULL);
             INSERT INTO messages VALUES ('m-1', 'ESME_ROK', 'smsc1', 'abc', NULL, 100),
                                         ('m-2', 'DELIVRD', 'smsc2', NULL, 'ok', 200);
             PRAGMA user_version = 1;"
        ))
        .expect("a version 1 file");
        drop(c);
        drop(Db::open(&path, false, 8).expect("opened and upgraded"));
        let c = Connection::open(&path).expect("reopen");
        assert_eq!(schema_version(&c).expect("version"), SCHEMA_VERSION);
        assert!(
            messages_sql(&c).contains("WITHOUT ROWID"),
            "{}",
            messages_sql(&c)
        );
        type Row = (String, String, String, Option<String>, Option<String>, i64);
        let rows: Vec<Row> = c
            .prepare("SELECT id, status, connector, smsc_id, detail, updated_at FROM messages ORDER BY id")
            .expect("select")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(
            rows,
            vec![
                (
                    "m-1".into(),
                    "ESME_ROK".into(),
                    "smsc1".into(),
                    Some("abc".into()),
                    None,
                    100
                ),
                (
                    "m-2".into(),
                    "DELIVRD".into(),
                    "smsc2".into(),
                    None,
                    Some("ok".into()),
                    200
                ),
            ]
        );
        // The pruner's index came along.
        let plan: String = c
            .query_row(
                "EXPLAIN QUERY PLAN DELETE FROM messages WHERE updated_at < 150",
                [],
                |r| r.get(3),
            )
            .expect("plan");
        assert!(plan.contains("messages_by_age"), "{plan}");
    }

    #[test]
    fn a_new_file_starts_in_the_current_layout() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("smsgate.db");
        drop(Db::open(&path, false, 8).expect("created"));
        let c = Connection::open(&path).expect("reopen");
        assert_eq!(schema_version(&c).expect("version"), SCHEMA_VERSION);
        assert!(messages_sql(&c).contains("WITHOUT ROWID"));
    }
}
