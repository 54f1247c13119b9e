//! This module deals with actions that outlive the page or the process. An action sent with
//! [`Client::emit_action`](crate::Client::emit_action) is written to an [`Outbox`], with its
//! idempotency key, before it leaves, and removed once the server answered it. When the tab
//! is reloaded or closed (or the process restarts) while actions wait — queued offline, or
//! sent with no answer yet — the next client given the same store
//! ([`Client::attach_outbox`](crate::Client::attach_outbox)) sends each again under the same
//! key. The server applies a key once, so each action is applied exactly once.
//!
//! Stores: [`MemoryOutbox`] (tests, and processes that only need the reconnection queue),
//! `FileOutbox` natively, `LocalStorageOutbox` in the browser; any other implements
//! [`Outbox`]. Each action is its own entry, so two tabs or processes sharing a store never
//! overwrite each other's actions (both may resend one: the key makes that harmless).

use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::client::MaybeSend;
use crate::codec;

/// An action as an [`Outbox`] keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAction {
    /// Its idempotency key (also in `payload`).
    pub key: String,
    /// The socket event, e.g. `payment:add`.
    pub event: String,
    /// The event's one argument, with its `idempotency_key`.
    pub payload: Value,
    /// What the application stored with it (e.g. the row it shows while pending).
    pub meta: Value,
    /// Wall-clock ms when it was made: actions are restored in this order.
    pub at_ms: u64,
}

impl StoredAction {
    /// The action as JSON text, as the stores keep it. Written by hand: a derived serialiser
    /// would add its code to the browser bundle for one type.
    pub fn to_json(&self) -> String {
        codec::json_text(&codec::object(vec![
            ("key", self.key.as_str().into()),
            ("event", self.event.as_str().into()),
            ("payload", self.payload.clone()),
            ("meta", self.meta.clone()),
            ("at_ms", self.at_ms.into()),
        ]))
    }

    /// Reads [`StoredAction::to_json`]'s text; `None` if it is not an action.
    pub fn from_json(text: &str) -> Option<StoredAction> {
        let mut v = crate::codec::parse_json(text).ok()?;
        let mut take = |k: &str| v.get_mut(k).map(Value::take);
        Some(StoredAction {
            key: take("key")?.as_str()?.to_owned(),
            event: take("event")?.as_str()?.to_owned(),
            payload: take("payload")?,
            meta: take("meta").unwrap_or_default(),
            at_ms: take("at_ms")?.as_u64()?,
        })
    }
}

/// Where actions wait for their answer. Writes are synchronous: an action is stored before it
/// is sent, or refused.
pub trait Outbox: MaybeSend + 'static {
    /// Every stored action, in any order.
    fn load(&self) -> Vec<StoredAction>;
    /// Stores `action`, replacing one with the same key. An error (e.g. storage full) refuses
    /// the action.
    fn put(&self, action: &StoredAction) -> Result<(), String>;
    /// Forgets the action with `key`, if stored.
    fn remove(&self, key: &str);
}

/// Actions in memory. Clones share the store, so a test can hand it from one client to the
/// next as a page reload would.
#[derive(Debug, Clone, Default)]
pub struct MemoryOutbox(Arc<Mutex<Vec<StoredAction>>>);

impl MemoryOutbox {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Vec<StoredAction>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Outbox for MemoryOutbox {
    fn load(&self) -> Vec<StoredAction> {
        self.with(|v| v.clone())
    }

    fn put(&self, action: &StoredAction) -> Result<(), String> {
        self.with(|v| {
            v.retain(|a| a.key != action.key);
            v.push(action.clone());
        });
        Ok(())
    }

    fn remove(&self, key: &str) {
        self.with(|v| v.retain(|a| a.key != key));
    }
}

/// Restores in the order the actions were made (the store's own order is arbitrary): by
/// time, then, within a millisecond, by key, shorter first. The client's own keys are
/// `<nonce>-<counter>` with the counter in decimal, so the shorter of two from one client is
/// the earlier (`…-9` before `…-10`, which text order alone reverses).
/// An insertion sort: outboxes are short, and the standard sorts would add 5 KB to the
/// browser bundle for this one use.
pub(crate) fn in_order(mut actions: Vec<StoredAction>) -> Vec<StoredAction> {
    let rank = |a: &StoredAction| (a.at_ms, a.key.len());
    let before = |a: &StoredAction, b: &StoredAction| (rank(a), &a.key) < (rank(b), &b.key);
    for i in 1..actions.len() {
        let mut j = i;
        while j > 0 && before(&actions[j], &actions[j - 1]) {
            actions.swap(j, j - 1);
            j -= 1;
        }
    }
    actions
}

/// A key as a file or storage name: hex, so any key is a safe name.
fn hex(key: &str) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    key.bytes()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

/// Actions in a directory, one JSON file each, written whole (a temporary file renamed), so
/// a process that dies mid-write leaves an action stored or not, never half. There is no
/// fsync: a power cut may lose the newest.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone)]
pub struct FileOutbox {
    dir: std::path::PathBuf,
}

#[cfg(not(target_arch = "wasm32"))]
impl FileOutbox {
    /// A store in `dir`, created if missing.
    pub fn open(dir: impl Into<std::path::PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(FileOutbox { dir })
    }

    fn path(&self, key: &str) -> std::path::PathBuf {
        self.dir.join(format!("{}.json", hex(key)))
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Outbox for FileOutbox {
    fn load(&self) -> Vec<StoredAction> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            // An unreadable file is left where it is, for a person to look at.
            .filter_map(|e| StoredAction::from_json(&std::fs::read_to_string(e.path()).ok()?))
            .collect()
    }

    fn put(&self, action: &StoredAction) -> Result<(), String> {
        let path = self.path(&action.key);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, action.to_json())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    fn remove(&self, key: &str) {
        let _ = std::fs::remove_file(self.path(key));
    }
}

/// Actions in the browser's localStorage, one item each under `prefix` (e.g. one prefix per
/// signed-in user, so a queue never goes out under someone else's session).
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Clone)]
pub struct LocalStorageOutbox {
    prefix: String,
}

#[cfg(target_arch = "wasm32")]
impl LocalStorageOutbox {
    /// A store under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        LocalStorageOutbox { prefix: prefix.into() }
    }

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }
}

#[cfg(target_arch = "wasm32")]
impl Outbox for LocalStorageOutbox {
    fn load(&self) -> Vec<StoredAction> {
        let Some(s) = Self::storage() else { return Vec::new() };
        let n = s.length().unwrap_or(0);
        (0..n)
            .filter_map(|i| s.key(i).ok().flatten())
            .filter(|k| k.starts_with(&self.prefix))
            .filter_map(|k| StoredAction::from_json(&s.get_item(&k).ok()??))
            .collect()
    }

    fn put(&self, action: &StoredAction) -> Result<(), String> {
        let s = Self::storage().ok_or("localStorage is not available")?;
        s.set_item(&format!("{}{}", self.prefix, hex(&action.key)), &action.to_json())
            .map_err(|_| "localStorage is full".to_owned())
    }

    fn remove(&self, key: &str) {
        if let Some(s) = Self::storage() {
            let _ = s.remove_item(&format!("{}{}", self.prefix, hex(key)));
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn action(key: &str, at_ms: u64) -> StoredAction {
        StoredAction {
            key: key.into(),
            event: "payment:add".into(),
            payload: serde_json::json!({ "amount": 1, "idempotency_key": key }),
            meta: serde_json::json!({ "label": key }),
            at_ms,
        }
    }

    #[test]
    fn a_file_outbox_keeps_actions_across_instances_until_removed() {
        let dir = std::env::temp_dir().join(format!("pulse-outbox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = FileOutbox::open(&dir).unwrap();
        first.put(&action("k/2", 2)).unwrap();
        first.put(&action("k-1", 1)).unwrap();
        first.put(&action("k-1", 1)).unwrap();
        // A stray file is skipped, not fatal.
        std::fs::write(dir.join("junk.json"), b"{not json").unwrap();

        let second = FileOutbox::open(&dir).unwrap();
        let keys: Vec<String> = in_order(second.load()).into_iter().map(|a| a.key).collect();
        assert_eq!(keys, ["k-1", "k/2"]);
        second.remove("k-1");
        assert_eq!(FileOutbox::open(&dir).unwrap().load(), vec![action("k/2", 2)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn actions_of_one_millisecond_restore_in_the_order_their_counters_were_taken() {
        let made: Vec<StoredAction> = [8, 9, 10, 11, 100]
            .iter()
            .map(|n| action(&format!("00000000000000ab-{n}"), 7))
            .chain([action("00000000000000ab-12", 6)])
            .collect();
        let keys: Vec<String> = in_order(made.into_iter().rev().collect())
            .into_iter()
            .map(|a| a.key.rsplit('-').next().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(keys, ["12", "8", "9", "10", "11", "100"]);
    }

    #[test]
    fn a_memory_outbox_is_shared_by_its_clones() {
        let a = MemoryOutbox::new();
        a.clone().put(&action("x", 5)).unwrap();
        assert_eq!(a.load().len(), 1);
        a.clone().remove("x");
        assert!(a.load().is_empty());
    }
}
