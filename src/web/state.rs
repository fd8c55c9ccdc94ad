//! What every handler can reach.

use std::sync::Arc;

use crate::db::Db;
use crate::delivery::Kick;
use crate::ops::compose::MailKit;
use crate::ops::reader::Readers;

/// What the web layer is told, built from the settings by `app`.
#[derive(Debug, Clone)]
pub(crate) struct WebSettings {
    /// The public base of every link, without a trailing slash.
    pub(crate) root_url: String,
    /// The sender of campaigns and transactional mail that name none.
    pub(crate) from_email: String,
    /// A proxy's header naming the client, and how many proxies of ours add to it.
    pub(crate) client_ip_header: Option<String>,
    pub(crate) client_ip_trusted_hops: usize,
    /// Origins whose pages may post the embedded form.
    pub(crate) embed_origins: Vec<String>,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_upload_bytes: usize,
    /// Where uploads wait for their import.
    pub(crate) upload_dir: std::path::PathBuf,
    pub(crate) import_batch_size: usize,
    /// The desk's sign-in rules.
    pub(crate) sign_in: crate::ops::sessions::SignInPolicy,
    /// Every setting in force, with where it came from (secrets masked), for the settings
    /// page.
    pub(crate) configuration: Vec<(String, String, crate::ops::publisher::Origin)>,
    /// The SMTP relays, for the settings page's connection test.
    pub(crate) relays: Vec<crate::mail::smtp::SmtpServerConfig>,
    /// The name said in EHLO.
    pub(crate) hello: String,
    /// The DKIM keys, for the DNS records to publish.
    pub(crate) dkim: Vec<crate::mail::dkim::DkimKeyConfig>,
    /// The domain of the default sender, and the bounce address, for SPF and DMARC advice.
    pub(crate) from_email_domain: String,
    pub(crate) bounce_address: Option<String>,
}

impl WebSettings {
    /// Whether bulten is reached over HTTPS: then the desk's cookie is `Secure` and
    /// `__Host-` prefixed, which a page of another subdomain cannot set or overwrite.
    pub(crate) fn is_https(&self) -> bool {
        self.root_url.starts_with("https://")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) db: Db,
    pub(crate) settings: Arc<WebSettings>,
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
    /// The dashboard's numbers as last counted.
    pub(crate) dashboard: Arc<crate::ops::dashboard::Counts>,
}

/// Whole-list answers written at once; more are asked to come back shortly.
const WHOLE_LISTS_AT_ONCE: usize = 2;

impl AppState {
    pub(crate) fn new(
        db: Db,
        settings: WebSettings,
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
            dashboard: Arc::default(),
        }
    }
}
