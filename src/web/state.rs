//! What every handler can reach.

use std::sync::Arc;

use tokio::sync::Mutex;

use crate::config::Settings;
use crate::db::Db;

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// The import this process is running, if any; one at a time, as in listmonk.
    pub import_task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl AppState {
    pub fn new(db: Db, settings: Settings) -> Self {
        Self {
            db,
            settings: Arc::new(settings),
            import_task: Arc::new(Mutex::new(None)),
        }
    }
}
