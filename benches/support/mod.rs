//! What both benchmarks need: running commands and the bulten binary, and scratch
//! PostgreSQL databases.

use std::process::Command;
use std::time::Instant;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_bulten");

/// Runs `command`, fails loudly on error, returns stdout and the wall time in seconds.
pub(crate) fn timed(command: &mut Command) -> (String, f64) {
    let started = Instant::now();
    let output = command.output().expect("the command runs");
    let secs = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (String::from_utf8_lossy(&output.stdout).into_owned(), secs)
}

/// Runs `command`, fails loudly on error, returns stdout.
#[allow(dead_code)]
pub(crate) fn run(command: &mut Command) -> String {
    timed(command).0
}

/// The bulten binary against the database that `db_args` name, logging warnings only.
pub(crate) fn bulten(db_args: &[String]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(db_args)
        .env("RUST_LOG", "warn")
        .env_remove("BULTEN_CONFIG");
    command
}

/// The PostgreSQL server the benchmarks create their databases on.
pub(crate) fn postgres_admin_url() -> String {
    std::env::var("BULTEN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on that server.
pub(crate) fn postgres_url(name: &str) -> String {
    let mut url = url::Url::parse(&postgres_admin_url()).expect("a PostgreSQL URL");
    url.set_path(name);
    url.to_string()
}

/// Drops database `name` if it exists.
pub(crate) fn drop_postgres_database(name: &str) {
    timed(Command::new("psql").arg(postgres_admin_url()).args([
        "-qc",
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    ]));
}

/// An empty database `name`, dropped first if it exists.
pub(crate) fn fresh_postgres_database(name: &str) {
    drop_postgres_database(name);
    timed(
        Command::new("psql")
            .arg(postgres_admin_url())
            .args(["-qc", &format!("CREATE DATABASE {name}")]),
    );
}
