//! `pulse-server admin backup` copies the SQLite file while the server keeps writing; the copy
//! restores into a server whose data is a consistent prefix of the original (every payment in
//! it exists in the original, its log has no gap), and signs in the same users.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::fixture::{TestServer, DEMO};

fn backup(data_dir: &Path, to: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pulse-server"))
        .args(["admin", "backup", "--to"])
        .arg(to)
        .env("PULSE_DATA_DIR", data_dir)
        .env_remove("PULSE_DATABASE_URL")
        .output()
        .expect("run pulse-server admin backup");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

async fn notes(server: &TestServer, token: &str) -> Vec<String> {
    let (status, page) = server.get(token, "/api/payments?limit=500").await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["note"].as_str())
        .map(String::from)
        .collect()
}

async fn log_seqs(server: &TestServer, token: &str) -> Vec<u64> {
    let (status, page) = server.get(token, "/api/events?since=0&limit=1000").await;
    assert_eq!(status, 200, "{page}");
    page["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_online_backup_restores_a_consistent_prefix() {
    if crate::fixture::backend_name() != "sqlite" {
        return; // PostgreSQL is backed up with its own tools.
    }
    let server = TestServer::start(|_| {}).await;
    let session = server.login(DEMO).await;
    let (url, token) = (format!("{}/api/payments", server.url()), session.token.clone());
    let pay = move |note: String| {
        let (url, token) = (url.clone(), token.clone());
        async move {
            let res = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "customer_id": 4, "amount": 1.25, "method": "CASH", "note": note }))
                .send()
                .await
                .expect("payment");
            assert_eq!(res.status(), 200);
        }
    };
    for i in 0..20 {
        pay(format!("before-{i}")).await;
    }
    // Payments keep committing while the backup runs.
    let writer = {
        let pay = pay.clone();
        tokio::spawn(async move {
            for i in 0..60 {
                pay(format!("during-{i}")).await;
            }
        })
    };
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("pulse-backup.db");
    let (ok, out) = tokio::task::spawn_blocking({
        let (dir, copy) = (server.data_dir.clone(), copy.clone());
        move || backup(&dir, &copy)
    })
    .await
    .unwrap();
    assert!(ok, "backup: {out}");
    writer.await.unwrap();
    let (ok, out) = backup(&server.data_dir, &copy);
    assert!(!ok && out.contains("never overwrites"), "a second backup onto the copy: {out}");
    let original = notes(&server, &session.token).await;
    assert_eq!(original.len(), 80);

    // Restore: the copy becomes the data directory's pulse.db of a new server.
    let restored_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&copy, restored_dir.path().join("pulse.db")).unwrap();
    let restored = TestServer::start_in(restored_dir.path(), |c| c.demo = false).await;
    let session = restored.login(DEMO).await;
    let kept = notes(&restored, &session.token).await;
    assert!(kept.len() >= 20, "every payment acknowledged before the backup: {}", kept.len());
    for i in 0..20 {
        assert!(kept.contains(&format!("before-{i}")), "before-{i} missing from the backup");
    }
    // A prefix: the "during" payments it has are the first ones, and all exist in the original.
    let during: Vec<&String> = kept.iter().filter(|n| n.starts_with("during-")).collect();
    eprintln!("the backup holds {} of the 60 payments made while it ran", during.len());
    for i in 0..during.len() {
        assert!(kept.contains(&format!("during-{i}")), "a gap in the backup at during-{i}");
    }
    assert!(kept.iter().all(|n| original.contains(n)));
    let seqs = log_seqs(&restored, &session.token).await;
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "the restored log is gapless from 1");
    let (_, check) = restored.get(&session.token, "/health").await;
    assert_eq!(check["status"], Value::from("ok"));
    restored.stop().await;
    server.stop().await;
}
