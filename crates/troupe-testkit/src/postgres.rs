//! A scratch PostgreSQL database for tests that run `troupe` processes or stores against the
//! test server: created with `psql` under a unique name, dropped (with `FORCE`) when the
//! handle is dropped, also when the test fails.

use std::process::{Command, Stdio};

/// A randomly named database on the test server (`TROUPE_TEST_POSTGRES_URL`, else
/// `DATABASE_URL` naming PostgreSQL), created with `psql` and dropped when this is dropped.
#[derive(Debug)]
pub struct Database {
    admin: String,
    name: String,
}

impl Database {
    /// A new database named `<prefix>_<pid>_<nanos>`; `None` when no PostgreSQL server is
    /// configured or `psql` cannot create a database (the caller then says SKIPPED).
    pub fn create(prefix: &str) -> Option<Self> {
        let admin = ["TROUPE_TEST_POSTGRES_URL", "DATABASE_URL"]
            .iter()
            .filter_map(|var| std::env::var(var).ok())
            .find(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("{prefix}_{}_{nanos}", std::process::id());
        let created = Command::new("psql")
            .args([&admin, "-qc", &format!("CREATE DATABASE {name}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        created.then_some(Self { admin, name })
    }

    /// The URL of this database (the server's URL with the database name replaced).
    pub fn url(&self) -> String {
        let (base, query) = self
            .admin
            .split_once('?')
            .map_or((self.admin.as_str(), None), |(b, q)| (b, Some(q)));
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let server = match base[scheme_end..].find('/') {
            Some(slash) => &base[..scheme_end + slash],
            None => base,
        };
        match query {
            Some(q) => format!("{server}/{}?{q}", self.name),
            None => format!("{server}/{}", self.name),
        }
    }

    /// Runs `sql` with `psql` on this database; its unaligned, tuples-only output.
    ///
    /// # Panics
    /// When `psql` fails.
    pub fn query(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .args([&self.url(), "-v", "ON_ERROR_STOP=1", "-Atc", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin,
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_url_keeps_server_credentials_and_options_and_names_the_new_database() {
        let db = Database {
            admin: "postgres://u:p@127.0.0.1:5432/test?sslmode=disable".into(),
            name: "runbook_1".into(),
        };
        assert_eq!(
            db.url(),
            "postgres://u:p@127.0.0.1:5432/runbook_1?sslmode=disable"
        );
        // Not dropped against a real server.
        std::mem::forget(db);
    }
}
