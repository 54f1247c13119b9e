//! This module deals with appending to a tenant's event log inside the transaction that makes
//! the change, and with this node's per-tenant [`Feed`]: how far it has fanned the log out.
//!
//! `seq` numbering is the database's job (the write transaction holds the tenant's lock, see
//! [`crate::db::Db::begin_write`]), so it holds across nodes. Fan-out order is this node's
//! job: a tenant's feed lock is held while entries go out, and entries go out only in `seq`
//! order from the feed's cursor, whichever node wrote them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use pulse_protocol::events::{topic_of, Id, ServerEvent, Topic, Topics};
use pulse_protocol::rest::LoggedEvent;
use serde_json::value::RawValue;
use socketioxide::socket::Sid;
use sqlx::AnyConnection;
use tokio::sync::OwnedMutexGuard;

use crate::db;
use crate::error::AppError;

/// One async mutex per tenant, held while its entries are fanned out on this node.
#[derive(Debug, Default)]
pub(crate) struct Feeds {
    locks: Mutex<HashMap<Id, Slot>>,
    /// Each tenant log's epoch, once read: it never changes while the database is open.
    epochs: Mutex<HashMap<Id, String>>,
}

/// A tenant's feed lock, and how many wait for it.
#[derive(Debug, Default, Clone)]
struct Slot {
    feed: Arc<tokio::sync::Mutex<Feed>>,
    waiting: Arc<AtomicUsize>,
}

/// A tenant's [`Feed`], locked.
#[derive(Debug)]
pub(crate) struct FeedGuard {
    feed: OwnedMutexGuard<Feed>,
    waiting: Arc<AtomicUsize>,
}

impl FeedGuard {
    /// Whether another task waits for this feed: more entries (or a catch-up) are queued
    /// behind what the holder sends, so its fan-out is behind.
    pub(crate) fn contended(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) > 0
    }
}

impl Deref for FeedGuard {
    type Target = Feed;
    fn deref(&self) -> &Feed {
        &self.feed
    }
}

impl DerefMut for FeedGuard {
    fn deref_mut(&mut self) -> &mut Feed {
        &mut self.feed
    }
}

/// Counts a task as waiting for a feed until dropped (also when its wait is cancelled).
struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How far this node has fanned out a tenant's log, and who is catching up.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    /// The last `seq` fanned out to this node's sockets. `None` until a socket of the tenant
    /// connects here (nothing to fan out before); every entry up to it is committed.
    pub(crate) cursor: Option<u64>,
    /// Sockets of the tenant that are being caught up from the log (see
    /// [`super::catchup`]); live fan-out skips them until they reach the head.
    pub(crate) behind: HashSet<Sid>,
    /// The entries fanned out last, as they went out, up to the cursor.
    pub(crate) recent: Recent,
}

/// An entry as fan-out sent it: its envelope encoded once, and who may see it.
#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) seq: u64,
    /// `None`: the whole tenant.
    pub(crate) user_id: Option<Id>,
    pub(crate) topic: Option<Topic>,
    pub(crate) event: String,
    /// `{ seq, ts, data }`.
    pub(crate) payload: Box<RawValue>,
}

impl Sent {
    /// Encodes a logged entry as fan-out sends it.
    pub(crate) fn new(e: &Entry) -> Result<Sent, serde_json::Error> {
        Ok(Sent {
            seq: e.event.seq,
            user_id: e.user_id,
            topic: topic_of(&e.event.event),
            event: e.event.event.clone(),
            payload: serde_json::value::to_raw_value(&super::broadcast::envelope(&e.event))?,
        })
    }

    /// Whether the socket of `user_id` subscribed to `topics` receives this entry.
    pub(crate) fn reaches(&self, user_id: Option<Id>, topics: Topics) -> bool {
        self.user_id.is_none_or(|u| Some(u) == user_id)
            && self.topic.is_none_or(|t| topics.contains(t))
    }
}

/// The last entries fanned out on this node, contiguous in `seq`, bounded in count and bytes.
///
/// A socket whose send queue filled up during live fan-out is usually only a few entries
/// behind; catching it up from here costs no read of the log, no JSON parse and no encoding
/// per socket (with 200 sockets on two busy cores, catch-up from the database was 45 % of
/// the server's CPU).
#[derive(Debug, Default)]
pub(crate) struct Recent {
    entries: VecDeque<Arc<Sent>>,
    bytes: usize,
}

impl Recent {
    /// At most this many entries are kept ...
    pub(crate) const MAX_ENTRIES: usize = 4096;
    /// ... and at most this many payload bytes.
    const MAX_BYTES: usize = 2 << 20;

    /// Keeps `sent`, the entry fanned out after the last one kept (otherwise what was kept is
    /// forgotten: the entries must stay contiguous).
    pub(crate) fn push(&mut self, sent: Arc<Sent>) {
        if self.entries.back().is_some_and(|b| b.seq + 1 != sent.seq) {
            self.entries.clear();
            self.bytes = 0;
        }
        self.bytes += sent.payload.get().len();
        self.entries.push_back(sent);
        while self.entries.len() > Self::MAX_ENTRIES || self.bytes > Self::MAX_BYTES {
            let Some(old) = self.entries.pop_front() else { break };
            self.bytes -= old.payload.get().len();
        }
    }

    /// The entries after `after` up to `upto` that reach `user_id`'s socket subscribed to
    /// `topics`, looking at no more than `page` entries; with the `seq` looked at last. `None`
    /// when the entries after `after` up to `upto` are not all kept (read the log instead).
    pub(crate) fn since(
        &self,
        after: u64,
        upto: u64,
        page: u64,
        user_id: Option<Id>,
        topics: Topics,
    ) -> Option<(Vec<Arc<Sent>>, u64)> {
        let first = self.entries.front()?.seq;
        let last = self.entries.back()?.seq;
        if first > after + 1 || last < upto || after >= upto {
            return None;
        }
        let end = upto.min(after + page);
        let from = (after + 1 - first) as usize;
        let to = (end + 1 - first) as usize;
        let sent =
            self.entries.range(from..to).filter(|s| s.reaches(user_id, topics)).cloned().collect();
        Some((sent, end))
    }
}

impl Feed {
    /// Starts fanning out at `head`, the log's head, the first time a socket of the tenant
    /// connects here, keeping `tail` (the log's last entries up to `head`, read with it) as
    /// if they had just gone out. After a restart every client resumes at once; with the
    /// tail kept, their catch-ups cost no read of the log each.
    pub(crate) fn start_at(&mut self, head: u64, tail: &[Entry]) {
        if self.cursor.is_some() {
            return;
        }
        for e in tail.iter().filter(|e| e.event.seq <= head) {
            match Sent::new(e) {
                Ok(s) => self.recent.push(Arc::new(s)),
                // Kept entries must be contiguous: start afresh after one that cannot be.
                Err(_) => self.recent = Recent::default(),
            }
        }
        self.cursor = Some(head);
    }
}

impl Feeds {
    /// Tenants whose feed has a cursor (some socket of theirs connected here).
    pub(crate) fn tenants(&self) -> Vec<Id> {
        self.locks.lock().unwrap_or_else(|e| e.into_inner()).keys().copied().collect()
    }

    /// The tenant log's epoch (see `pulse_protocol::events::ConnectionStatus`), created
    /// with a random value the first time any node asks.
    pub(crate) async fn epoch(
        &self,
        conn: &mut AnyConnection,
        tenant_id: Id,
        now: i64,
    ) -> Result<String, sqlx::Error> {
        if let Some(e) = self.epochs.lock().unwrap_or_else(|e| e.into_inner()).get(&tenant_id) {
            return Ok(e.clone());
        }
        let fresh = format!("{:016x}", rand::random::<u64>());
        let epoch = db::event_log::epoch(conn, tenant_id, &fresh, now).await?;
        self.epochs.lock().unwrap_or_else(|e| e.into_inner()).insert(tenant_id, epoch.clone());
        Ok(epoch)
    }

    /// Waits for the tenant's lock.
    pub(crate) async fn lock(&self, tenant_id: Id) -> FeedGuard {
        let slot = self
            .locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tenant_id)
            .or_default()
            .clone();
        let waiting = Waiting::new(&slot.waiting);
        let feed = slot.feed.lock_owned().await;
        drop(waiting);
        FeedGuard { feed, waiting: slot.waiting }
    }
}

/// A logged entry and who may see it (`None`: the whole tenant).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) user_id: Option<Id>,
    pub(crate) event: LoggedEvent,
}

/// The entries one change appends, numbered from the log head read when it started, and
/// written to the log in one statement when it commits.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) tenant_id: Id,
    pub(crate) ts: i64,
    head: u64,
    pub(crate) entries: Vec<Entry>,
}

impl Batch {
    /// Starts a batch; the caller holds an open write transaction (which holds the tenant's
    /// lock in the database).
    pub(crate) async fn start(
        conn: &mut AnyConnection,
        tenant_id: Id,
        ts: i64,
    ) -> Result<Batch, AppError> {
        let head = db::event_log::head(conn, tenant_id).await?;
        Ok(Batch { tenant_id, ts, head, entries: Vec::new() })
    }

    /// The last `seq` appended (the head before the batch if none was).
    pub(crate) fn last_seq(&self) -> u64 {
        self.head + self.entries.len() as u64
    }

    /// The `seq` the next [`Batch::append`] will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.head + self.entries.len() as u64 + 1
    }

    /// Appends event `E` with `data`, visible to `user_id` only when given (the callers in
    /// `actions` hold the declared scope: [`TenantEntry`] or [`UserEntry`]).
    ///
    /// [`TenantEntry`]: pulse_protocol::events::TenantEntry
    /// [`UserEntry`]: pulse_protocol::events::UserEntry
    pub(crate) fn append<E: ServerEvent>(
        &mut self,
        user_id: Option<Id>,
        data: &E::Payload,
    ) -> Result<u64, AppError> {
        let seq = self.next_seq();
        let event = LoggedEvent {
            seq,
            ts: self.ts,
            event: E::NAME.to_owned(),
            data: serde_json::to_value(data).map_err(|e| AppError::Internal(e.to_string()))?,
        };
        self.entries.push(Entry { user_id, event });
        Ok(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(seq: u64, user_id: Option<Id>, topic: Option<Topic>, bytes: usize) -> Arc<Sent> {
        let payload = RawValue::from_string(format!("\"{}\"", "x".repeat(bytes))).unwrap();
        Arc::new(Sent { seq, user_id, topic, event: "e".into(), payload })
    }

    fn seqs(r: Option<(Vec<Arc<Sent>>, u64)>) -> Option<(Vec<u64>, u64)> {
        r.map(|(v, last)| (v.iter().map(|s| s.seq).collect(), last))
    }

    /// The fan-out writes in its own turn only while nobody waits for the feed; a waiter that
    /// gives up (its task cancelled) must not leave the feed looking behind for ever.
    #[tokio::test]
    async fn a_feed_is_contended_while_someone_waits_for_it() {
        let feeds = Arc::new(Feeds::default());
        let held = feeds.lock(1).await;
        assert!(!held.contended());
        let other = feeds.lock(2).await;
        assert!(!held.contended(), "another tenant's feed is not this one's");
        drop(other);

        let waiter = tokio::spawn({
            let feeds = feeds.clone();
            async move { feeds.lock(1).await.contended() }
        });
        while !held.contended() {
            tokio::task::yield_now().await;
        }
        drop(held);
        assert!(!waiter.await.unwrap(), "the waiter, holding it alone, is not behind");

        let held = feeds.lock(1).await;
        let cancelled = tokio::spawn({
            let feeds = feeds.clone();
            async move { drop(feeds.lock(1).await) }
        });
        while !held.contended() {
            tokio::task::yield_now().await;
        }
        cancelled.abort();
        let _ = cancelled.await;
        assert!(!held.contended(), "a cancelled wait still counted");
    }

    #[test]
    fn serves_only_a_range_it_holds_whole() {
        let mut r = Recent::default();
        for seq in 11..=20 {
            r.push(sent(seq, None, None, 1));
        }
        let all = Topics::all();
        assert_eq!(seqs(r.since(10, 20, 256, None, all)), Some(((11..=20).collect(), 20)));
        assert_eq!(seqs(r.since(15, 18, 256, None, all)), Some(((16..=18).collect(), 18)));
        // One page at a time: the position looked at last comes back.
        assert_eq!(seqs(r.since(10, 20, 4, None, all)), Some(((11..=14).collect(), 14)));
        // Entry 10 is not held: the log must be read.
        assert_eq!(seqs(r.since(9, 20, 256, None, all)), None);
        // Up to 21: not fanned out yet.
        assert_eq!(seqs(r.since(15, 21, 256, None, all)), None);
        assert_eq!(seqs(r.since(20, 20, 256, None, all)), None);
    }

    #[test]
    fn a_gap_forgets_what_was_held() {
        let mut r = Recent::default();
        r.push(sent(1, None, None, 1));
        r.push(sent(2, None, None, 1));
        r.push(sent(5, None, None, 1));
        assert_eq!(seqs(r.since(1, 5, 256, None, Topics::all())), None);
        assert_eq!(seqs(r.since(4, 5, 256, None, Topics::all())), Some((vec![5], 5)));
    }

    #[test]
    fn bounded_in_entries_and_bytes() {
        let mut r = Recent::default();
        for seq in 1..=(Recent::MAX_ENTRIES as u64 + 10) {
            r.push(sent(seq, None, None, 1));
        }
        assert_eq!(r.entries.len(), Recent::MAX_ENTRIES);
        assert_eq!(r.entries.front().unwrap().seq, 11);

        let mut r = Recent::default();
        let big = Recent::MAX_BYTES / 8;
        for seq in 1..=20 {
            r.push(sent(seq, None, None, big));
        }
        assert!(r.bytes <= Recent::MAX_BYTES, "{} bytes kept", r.bytes);
        assert_eq!(r.bytes, r.entries.iter().map(|s| s.payload.get().len()).sum::<usize>());
        assert_eq!(r.entries.back().unwrap().seq, 20);
    }

    #[test]
    fn a_socket_gets_its_tenants_entries_its_users_own_and_its_topics() {
        let mut r = Recent::default();
        r.push(sent(1, None, Some(Topic::Payments), 1));
        r.push(sent(2, Some(7), None, 1));
        r.push(sent(3, Some(8), None, 1));
        r.push(sent(4, None, Some(Topic::Deliveries), 1));
        r.push(sent(5, None, None, 1));
        let deliveries: Topics = [Topic::Deliveries].into_iter().collect();
        assert_eq!(seqs(r.since(0, 5, 256, Some(7), deliveries)), Some((vec![2, 4, 5], 5)));
        assert_eq!(seqs(r.since(0, 5, 256, None, Topics::all())), Some((vec![1, 4, 5], 5)));
    }

    fn entry(seq: u64) -> Entry {
        let event = LoggedEvent { seq, ts: 0, event: "e".into(), data: serde_json::json!({}) };
        Entry { user_id: None, event }
    }

    #[test]
    fn a_feed_starts_with_the_logs_tail_kept() {
        let mut f = Feed::default();
        f.start_at(20, &(11..=20).map(entry).collect::<Vec<_>>());
        assert_eq!(f.cursor, Some(20));
        let served = seqs(f.recent.since(12, 20, 256, None, Topics::all()));
        assert_eq!(served, Some(((13..=20).collect(), 20)));
        let payload = f.recent.entries.back().unwrap().payload.get();
        assert_eq!(payload, r#"{"seq":20,"ts":0,"data":{}}"#);

        // A feed already started keeps its cursor and what it holds.
        f.start_at(30, &(21..=30).map(entry).collect::<Vec<_>>());
        assert_eq!(f.cursor, Some(20));
        assert_eq!(f.recent.entries.back().unwrap().seq, 20);

        // A tail that does not reach the head (an entry committed after it was read) is not
        // kept: the range it would serve has a hole at its end.
        let mut f = Feed::default();
        f.start_at(21, &(11..=20).map(entry).collect::<Vec<_>>());
        assert_eq!(f.cursor, Some(21));
        assert_eq!(seqs(f.recent.since(12, 21, 256, None, Topics::all())), None);
    }
}
