//! The store: SQLite under the data directory (WAL mode), the system of
//! record for what happens at run time — the question log and feedback.
//!
//! Users appear only as salted hashes ([`Store::user_hash`]); the salt is
//! made once per data directory and never leaves it.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

pub const DATABASE_FILE: &str = "safety-bot.sqlite3";

/// Schema migrations, applied in order; `user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE question_log (
         id INTEGER PRIMARY KEY,
         asked_at TEXT NOT NULL,
         channel TEXT NOT NULL,
         user_hash TEXT,
         question TEXT NOT NULL,
         outcome TEXT NOT NULL,
         urgent INTEGER NOT NULL,
         entry_id TEXT,
         score REAL NOT NULL
     );
     CREATE INDEX question_log_time ON question_log (asked_at);
     CREATE TABLE feedback (
         id INTEGER PRIMARY KEY,
         entry_id TEXT NOT NULL,
         user_hash TEXT NOT NULL,
         vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
         question TEXT,
         created_at TEXT NOT NULL,
         UNIQUE (entry_id, user_hash)
     );",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("数据库出错：{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("数据目录读写失败：{0}")]
    Io(#[from] std::io::Error),
}

/// What happened to one question, for the log.
#[derive(Debug, Clone)]
pub struct LoggedQuestion<'a> {
    pub channel: &'a str,
    pub user_hash: Option<&'a str>,
    pub question: &'a str,
    /// `answer`, `suggest` or `no_answer`.
    pub outcome: &'a str,
    pub urgent: bool,
    pub entry_id: Option<&'a str>,
    pub score: f32,
}

/// Whether a feedback tap changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackResult {
    Recorded,
    Changed,
    AlreadyRecorded,
}

pub struct Store {
    /// One connection behind a mutex: writes are short, and SQLite serialises
    /// writers anyway; no async work happens while it is held.
    connection: Mutex<Connection>,
    salt: String,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let connection = Connection::open(data_dir.join(DATABASE_FILE))?;
        Store::from_connection(connection)
    }

    /// A store in memory (tests).
    pub fn in_memory() -> Result<Store, StoreError> {
        Store::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(mut connection: Connection) -> Result<Store, StoreError> {
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        for (n, migration) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            let tx = connection.transaction()?;
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", (n + 1) as i64)?;
            tx.commit()?;
        }
        let salt: Option<String> = connection
            .query_row("SELECT value FROM meta WHERE key = 'salt'", [], |row| {
                row.get(0)
            })
            .optional()?;
        let salt = match salt {
            Some(salt) => salt,
            None => {
                let salt = new_salt();
                connection.execute("INSERT INTO meta (key, value) VALUES ('salt', ?1)", [&salt])?;
                salt
            }
        };
        Ok(Store {
            connection: Mutex::new(connection),
            salt,
        })
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A user id as stored: salted, hashed, shortened. Not reversible
    /// without the salt, and the same user always gets the same hash.
    pub fn user_hash(&self, user_id: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.salt.as_bytes());
        hasher.update(b":");
        hasher.update(user_id.as_bytes());
        hex::encode(&hasher.finalize()[..12])
    }

    pub fn log_question(&self, logged: &LoggedQuestion<'_>) -> Result<(), StoreError> {
        self.connection().execute(
            "INSERT INTO question_log (asked_at, channel, user_hash, question, outcome, urgent, entry_id, score)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                now(),
                logged.channel,
                logged.user_hash,
                logged.question,
                logged.outcome,
                logged.urgent,
                logged.entry_id,
                f64::from(logged.score)
            ],
        )?;
        Ok(())
    }

    /// Records a 👍 (`vote` 1) or 👎 (-1) on an entry. One vote per user
    /// and entry: pressing the same button again changes nothing, pressing
    /// the other one changes the vote.
    pub fn record_feedback(
        &self,
        entry_id: &str,
        user_hash: &str,
        vote: i8,
        question: Option<&str>,
    ) -> Result<FeedbackResult, StoreError> {
        let vote = if vote >= 0 { 1 } else { -1 };
        let connection = self.connection();
        let existing: Option<i64> = connection
            .query_row(
                "SELECT vote FROM feedback WHERE entry_id = ?1 AND user_hash = ?2",
                params![entry_id, user_hash],
                |row| row.get(0),
            )
            .optional()?;
        match existing {
            Some(old) if old == vote => Ok(FeedbackResult::AlreadyRecorded),
            Some(_) => {
                connection.execute(
                    "UPDATE feedback SET vote = ?3, created_at = ?4 WHERE entry_id = ?1 AND user_hash = ?2",
                    params![entry_id, user_hash, vote, now()],
                )?;
                Ok(FeedbackResult::Changed)
            }
            None => {
                connection.execute(
                    "INSERT INTO feedback (entry_id, user_hash, vote, question, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![entry_id, user_hash, vote, question, now()],
                )?;
                Ok(FeedbackResult::Recorded)
            }
        }
    }

    /// 👍 and 👎 counts for an entry.
    pub fn feedback_counts(&self, entry_id: &str) -> Result<(u64, u64), StoreError> {
        let connection = self.connection();
        let count = |vote: i64| -> Result<u64, rusqlite::Error> {
            connection
                .query_row(
                    "SELECT COUNT(*) FROM feedback WHERE entry_id = ?1 AND vote = ?2",
                    params![entry_id, vote],
                    |row| row.get::<_, i64>(0),
                )
                .map(|n| n.max(0) as u64)
        };
        Ok((count(1)?, count(-1)?))
    }

    /// How many questions were logged.
    pub fn question_count(&self) -> Result<u64, StoreError> {
        let n: i64 =
            self.connection()
                .query_row("SELECT COUNT(*) FROM question_log", [], |row| row.get(0))?;
        Ok(n.max(0) as u64)
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// 16 random bytes from the operating system, hex-encoded; falls back to
/// the clock and process id where /dev/urandom cannot be read.
fn new_salt() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let mut hasher = Sha256::new();
        hasher.update(format!(
            "{:?}{}",
            std::time::SystemTime::now(),
            std::process::id()
        ));
        bytes.copy_from_slice(&hasher.finalize()[..16]);
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_counts_once_per_user_and_entry() {
        let store = Store::in_memory().unwrap();
        let user = store.user_hash("42");
        assert_eq!(
            store.record_feedback("gas-smell", &user, 1, None).unwrap(),
            FeedbackResult::Recorded
        );
        assert_eq!(
            store.record_feedback("gas-smell", &user, 1, None).unwrap(),
            FeedbackResult::AlreadyRecorded
        );
        assert_eq!(store.feedback_counts("gas-smell").unwrap(), (1, 0));
        assert_eq!(
            store.record_feedback("gas-smell", &user, -1, None).unwrap(),
            FeedbackResult::Changed
        );
        assert_eq!(store.feedback_counts("gas-smell").unwrap(), (0, 1));
    }

    #[test]
    fn user_hashes_are_stable_and_salted() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path()).unwrap().user_hash("42");
        let again = Store::open(dir.path()).unwrap().user_hash("42");
        assert_eq!(first, again);
        assert_ne!(first, Store::in_memory().unwrap().user_hash("42"));
        assert!(!first.contains("42"));
    }

    #[test]
    fn questions_are_logged() {
        let store = Store::in_memory().unwrap();
        store
            .log_question(&LoggedQuestion {
                channel: "cli",
                user_hash: None,
                question: "燃气泄漏怎么办",
                outcome: "answer",
                urgent: false,
                entry_id: Some("gas-smell"),
                score: 0.9,
            })
            .unwrap();
        assert_eq!(store.question_count().unwrap(), 1);
    }
}
