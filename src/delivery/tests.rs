//! The engine's own tests: the retry schedule, and a campaign sent end to end through the
//! memory transport.

use super::*;

#[test]
fn retries_back_off_exponentially_with_jitter() {
    let base = Duration::from_secs(60);
    let first = retry_delay(base, 1);
    assert!(
        first >= Duration::from_secs(45) && first <= Duration::from_secs(75),
        "{first:?}"
    );
    let fourth = retry_delay(base, 4);
    assert!(
        fourth >= Duration::from_secs(360) && fourth <= Duration::from_secs(600),
        "{fourth:?}"
    );
    assert!(retry_delay(base, 100) <= Duration::from_secs(86_400 * 5 / 4));
}

/// A newsroom of one topic, three readers and a running campaign to them, in a fresh SQLite
/// database; the engine sends with `sealer` into `mailbox`.
struct Newsroom {
    _dir: tempfile::TempDir,
    db: Db,
    campaign_id: i64,
    engine: Engine,
}

impl Newsroom {
    async fn start(
        sealer: crate::mail::seal::Sealer,
        mailbox: Arc<senders::MemoryMailbox>,
    ) -> Self {
        use crate::domain::{
            Attribs, CampaignStatus, EmailAddress, ListName, ListStatus, ListType, OptinKind,
            SubscriberName, SubscriberStatus, Tags,
        };
        use crate::ops::campaigns::CampaignDraft;
        use crate::ops::lists::ListFields;
        use crate::ops::subscribers::{NewSubscriber, SubscriberFields};

        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&Db::sqlite_url_in(dir.path())).await.unwrap();
        db.migrate().await.unwrap();
        let list = crate::ops::lists::create(
            &db,
            &crate::ops::access::Caller::cli(),
            &ListFields {
                name: ListName::parse("Gündem").unwrap(),
                list_type: ListType::Public,
                optin: OptinKind::Single,
                status: ListStatus::Active,
                tags: Tags::default(),
                description: String::new(),
                language: None,
            },
        )
        .await
        .unwrap();
        for address in [
            "ayse@haber.example",
            "can@haber.example",
            "gone@haber.example",
        ] {
            let email = EmailAddress::parse(address).unwrap();
            let fields = SubscriberFields {
                name: SubscriberName::parse_or_default(None, &email).unwrap(),
                attribs: Attribs::default(),
                status: SubscriberStatus::Enabled,
                email,
            };
            let new = NewSubscriber {
                fields,
                list_ids: vec![list.list.id],
                preconfirm: false,
            };
            crate::ops::subscribers::create(&db, &crate::ops::access::Caller::cli(), new)
                .await
                .unwrap();
        }
        let kit = Arc::new(MailKit::new(
            crate::mail::tokens::Signer::new(b"engine test".to_vec()),
            "https://haber.example",
            sealer,
            "bulten",
        ));
        let draft = CampaignDraft {
            name: Some("Sabah".into()),
            subject: Some("Günaydın {{ subscriber.name }}".into()),
            lists: Some(vec![list.list.id]),
            body: Some("Merhaba".into()),
            ..CampaignDraft::default()
        };
        let campaign = crate::ops::campaigns::create(
            &db,
            &kit,
            &crate::ops::access::Caller::cli(),
            "Haber <bulten@haber.example>",
            draft,
        )
        .await
        .unwrap();
        crate::ops::campaigns::change_status(
            &db,
            &crate::ops::access::Caller::cli(),
            campaign.id,
            CampaignStatus::Running,
        )
        .await
        .unwrap();

        let settings = EngineSettings {
            sqlite_path: None,
            batch_size: 2,
            lease: Duration::from_secs(30),
            retry_base: Duration::from_secs(1),
            retry_max_age: Duration::from_secs(60),
            relays: Vec::new(),
            hello: "localhost".into(),
            send_rate: None,
            domain_limits: Vec::new(),
            memory: Some(mailbox),
        };
        let kick = Kick::default();
        let engine = Engine::start(db.clone(), &settings, kit, kick.clone())
            .await
            .unwrap();
        kick.kick();
        Self {
            _dir: dir,
            db,
            campaign_id: campaign.id,
            engine,
        }
    }

    /// The campaign once it has left `running`.
    async fn settled(&self) -> crate::db::campaigns::Campaign {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let current = crate::ops::campaigns::get(
                &self.db,
                &crate::ops::access::Caller::cli(),
                self.campaign_id,
            )
            .await
            .unwrap();
            if current.status != crate::domain::CampaignStatus::Running {
                return current;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the campaign left running: {current:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The engine end to end in one process: a campaign to three readers, one of whom the
/// relay refuses, goes out through the memory transport and is recorded in the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_sends_a_campaign_and_records_every_outcome() {
    let mailbox = Arc::new(senders::MemoryMailbox::refusing(&["gone@haber.example"]));
    let newsroom = Newsroom::start(crate::mail::seal::Sealer::default(), mailbox.clone()).await;
    let finished = newsroom.settled().await;
    newsroom.engine.stop().await;

    assert_eq!(finished.status, crate::domain::CampaignStatus::Finished);
    assert_eq!(
        (finished.sent, finished.bounced, finished.failed),
        (2, 1, 0)
    );
    let mut delivered: Vec<String> = mailbox.accepted().iter().map(|m| m.rcpt.clone()).collect();
    delivered.sort();
    assert_eq!(delivered, ["ayse@haber.example", "can@haber.example"]);
    for message in mailbox.accepted() {
        assert!(
            message.mail_from.starts_with("bounces+"),
            "a VERP return path"
        );
        let text = String::from_utf8(message.bytes).unwrap();
        assert!(
            text.contains("List-Unsubscribe: <https://haber.example/u/"),
            "{text}"
        );
    }
}

/// A key that cannot sign is the sender's fault, not the readers': the campaign pauses with
/// the reason for its editor, no reader is written off as failed, and nothing unsigned leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dkim_signing_failure_pauses_the_campaign_and_fails_no_reader() {
    let mailbox = Arc::new(senders::MemoryMailbox::refusing(&[]));
    let sealer = crate::mail::seal::Sealer {
        dkim: crate::mail::dkim::Dkim::refusing_every_message(),
        bounce_address: None,
    };
    let newsroom = Newsroom::start(sealer, mailbox.clone()).await;
    let paused = newsroom.settled().await;
    newsroom.engine.stop().await;

    assert_eq!(
        paused.status,
        crate::domain::CampaignStatus::Paused,
        "{paused:?}"
    );
    let reason = paused.status_reason.clone().unwrap_or_default();
    assert!(reason.contains("cannot be signed"), "{reason}");
    assert_eq!((paused.sent, paused.bounced, paused.failed), (0, 0, 0));
    assert!(mailbox.accepted().is_empty());
}
