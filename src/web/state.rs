//! What every handler can reach.

use std::sync::Arc;

use crate::config::Settings;
use crate::db::Db;
use crate::delivery::Kick;
use crate::ops::compose::MailKit;
use crate::ops::reader::Readers;

#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) db: Db,
    pub(crate) settings: Arc<Settings>,
    pub(crate) kit: Arc<MailKit>,
    /// Wakes the delivery engine after a change it should act on at once.
    pub(crate) kick: Kick,
    /// The reader's side: signups, confirmations, preferences, with their limits.
    pub(crate) readers: Arc<Readers>,
    /// The import this process is running, if any; one at a time, as in listmonk.
    pub(crate) imports: crate::ops::imports::Background,
    /// Whole-list answers (`per_page=all`) being written now: each holds a database
    /// connection for as long as its client reads, so only a few may run at once.
    pub(crate) whole_lists: Arc<tokio::sync::Semaphore>,
}

/// Whole-list answers written at once; more are asked to come back shortly.
const WHOLE_LISTS_AT_ONCE: usize = 2;

impl AppState {
    pub(crate) fn new(
        db: Db,
        settings: Settings,
        kit: Arc<MailKit>,
        kick: Kick,
        readers: Arc<Readers>,
    ) -> Self {
        Self {
            db,
            settings: Arc::new(settings),
            kit,
            kick,
            readers,
            imports: Default::default(),
            whole_lists: Arc::new(tokio::sync::Semaphore::new(WHOLE_LISTS_AT_ONCE)),
        }
    }
}
