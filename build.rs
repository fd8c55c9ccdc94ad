//! Rebuilds when a migration is added or changed: `sqlx::migrate!` embeds the migration
//! directories, and Cargo does not otherwise know the binary depends on them.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
