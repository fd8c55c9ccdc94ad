//! DKIM: every message carries an RSA-2048 and an Ed25519 signature that an independent
//! verifier (dkimpy) accepts, with the public keys given to it directly instead of by DNS;
//! a second List-Unsubscribe added on the way breaks them (the header is oversigned).

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::campaigns::{create_campaign, outbox, set_status, wait_campaign};
use crate::helpers::{Backend, expect_status, on_both_backends, spawn_app_with};

/// Runs `openssl` with `args`, failing the test on error.
pub(crate) fn openssl(args: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The verifier: every signature in the message must verify; prints one line per signature.
const VERIFY: &str = r#"
import sys, base64, dkim
message = open(sys.argv[1], 'rb').read()
records = {b'rsa._domainkey.haber.example.': sys.argv[2].encode(),
           b'ed._domainkey.haber.example.': sys.argv[3].encode()}
def dns(name, timeout=5):
    return records.get(name if name.endswith(b'.') else name + b'.')
d = dkim.DKIM(message)
count = message.count(b'DKIM-Signature:')
results = [d.verify(idx=i, dnsfunc=dns) for i in range(count)]
print(count, ' '.join('ok' if r else 'bad' for r in results))
sys.exit(0 if count > 0 and all(results) else 1)
"#;

async fn messages_carry_rsa_and_ed25519_signatures_dkimpy_accepts(backend: Backend) {
    let keys = tempfile::tempdir().unwrap();
    let rsa = keys.path().join("rsa.pem");
    let ed = keys.path().join("ed.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        rsa.to_str().unwrap(),
    ]);
    openssl(&[
        "genpkey",
        "-algorithm",
        "ED25519",
        "-out",
        ed.to_str().unwrap(),
    ]);
    let rsa_public = openssl(&[
        "pkey",
        "-in",
        rsa.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
    ]);
    let ed_public = openssl(&[
        "pkey",
        "-in",
        ed.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
    ]);
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let rsa_record = format!("v=DKIM1; k=rsa; p={}", b64(&rsa_public));
    // An Ed25519 record holds the bare 32-byte key, the last bytes of the DER form.
    let ed_record = format!(
        "v=DKIM1; k=ed25519; p={}",
        b64(&ed_public[ed_public.len() - 32..])
    );

    let (rsa_path, ed_path) = (rsa.clone(), ed.clone());
    let app = spawn_app_with(backend, move |s| {
        s.dkim = vec![
            toml_key("rsa", "rsa", &rsa_path),
            toml_key("ed", "ed25519", &ed_path),
        ];
    })
    .await;
    let list = app.create_list("Günlük", "single").await;
    app.create_subscriber(
        json!({"email": "okur@türkiye.example", "name": "Okur", "lists": [list]}),
    )
    .await;
    let id = create_campaign(
        &app,
        &[list],
        json!({"subject": "Gündem: İzmir {{ subscriber.name }}"}),
    )
    .await;
    expect_status(set_status(&app, id, "running").await, 200).await;
    wait_campaign(&app, id, Duration::from_secs(20), |c| {
        c["status"] == "finished"
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let raw = loop {
        if let Some(m) = outbox(&app).await.first() {
            break m["raw"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no message in the outbox");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(raw.matches("DKIM-Signature:").count(), 2, "{raw}");
    assert!(
        raw.contains("okur@xn--trkiye-3ya.example"),
        "the IDN domain as an A-label: {raw}"
    );

    let verify = |message: &[u8]| {
        let file = keys.path().join("message.eml");
        std::fs::write(&file, message).unwrap();
        Command::new("python3")
            .args([
                "-c",
                VERIFY,
                file.to_str().unwrap(),
                &rsa_record,
                &ed_record,
            ])
            .output()
            .expect("python3 runs (with dkimpy and pynacl, which .ci/run installs)")
    };
    let checked = verify(raw.as_bytes());
    assert!(
        checked.status.success(),
        "dkimpy: {} {}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&checked.stdout).trim(), "2 ok ok");

    // A second List-Unsubscribe slipped in by someone on the way: both signatures break.
    let tampered = raw.replacen(
        "List-Unsubscribe:",
        "List-Unsubscribe: <https://evil.example/u>\r\nList-Unsubscribe:",
        1,
    );
    let checked = verify(tampered.as_bytes());
    assert!(
        !checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
}
on_both_backends! { backend messages_carry_rsa_and_ed25519_signatures_dkimpy_accepts; }

fn toml_key(
    selector: &str,
    algorithm: &str,
    path: &std::path::Path,
) -> bulten::mail::dkim::DkimKeyConfig {
    bulten::mail::dkim::DkimKeyConfig {
        domain: "haber.example".into(),
        selector: selector.into(),
        algorithm: match algorithm {
            "rsa" => bulten::mail::dkim::Algorithm::Rsa,
            _ => bulten::mail::dkim::Algorithm::Ed25519,
        },
        private_key: None,
        private_key_file: Some(path.to_path_buf()),
    }
}
