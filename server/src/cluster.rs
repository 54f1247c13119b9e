//! This module deals with being one node among several sharing a PostgreSQL database: this
//! node's name, the heartbeat that lists the nodes alive (for `/health`), and the single
//! leader that runs the cluster's background work (the demo generator, stats pushes).
//!
//! Leadership is a PostgreSQL session advisory lock held on a dedicated connection: a node
//! that dies, or loses its connection, frees it, and another node takes it within a second.
//! The old leader notices its own loss within the same second and stops; a demo write it
//! makes meanwhile is still numbered and ordered by the database like any other. On SQLite
//! the one node is always the leader.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::{AnyConnection, Connection};
use tokio::sync::watch;

use crate::db::{self, Backend};
use crate::state::AppState;

/// How often a node says it is alive, and retries leadership.
const BEAT: Duration = Duration::from_secs(1);
/// A node not seen for this long is no longer listed as a peer.
const PEER_TIMEOUT_MS: i64 = 10_000;

/// This node.
#[derive(Debug)]
pub struct Node {
    /// Its name in /health, /metrics and logs.
    pub id: String,
    /// The address it listens on.
    pub addr: String,
    /// A watch, not a flag: background work waits for its turn instead of polling for it.
    leader: watch::Sender<bool>,
    draining: AtomicBool,
}

impl Node {
    pub(crate) fn new(id: String, addr: String) -> Node {
        metrics::gauge!("pulse_node_info", "node" => id.clone()).set(1.0);
        Node { id, addr, leader: watch::Sender::new(false), draining: AtomicBool::new(false) }
    }

    /// Whether this node is shutting down (then `/health/live` answers 503).
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub(crate) fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether this node runs the cluster's background work now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Returns once this node is the leader (at once if it is).
    pub(crate) async fn leading(&self) {
        // The sender lives in `self`, so the wait cannot see it closed.
        let _ = self.leader.subscribe().wait_for(|on| *on).await;
    }

    fn set_leader(&self, on: bool) {
        if self.leader.send_replace(on) != on {
            tracing::info!(node = %self.id, leader = on, "leadership changed");
            metrics::gauge!("pulse_leader").set(if on { 1.0 } else { 0.0 });
        }
    }
}

/// Keeps this node's row in `nodes` fresh. Runs until aborted.
pub(crate) async fn run_heartbeat(state: AppState) {
    let started = state.clock.now_ms();
    loop {
        let now = state.clock.now_ms();
        let tenants = crate::feed::stats::connected_tenants(&state).into_iter().collect::<Vec<_>>();
        let beat = async {
            let mut conn = state.db.acquire().await?;
            let node = &state.node;
            db::nodes::heartbeat(&mut conn, &node.id, &node.addr, started, &tenants, now).await
        };
        if let Err(e) = beat.await {
            tracing::debug!(error = %e, "heartbeat failed");
        }
        tokio::time::sleep(BEAT).await;
    }
}

/// The nodes seen alive lately: (id, addr, ms since last seen).
pub(crate) async fn peers(state: &AppState) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let now = state.clock.now_ms();
    let mut conn = state.db.acquire().await?;
    let rows = db::nodes::seen_since(&mut conn, now - PEER_TIMEOUT_MS).await?;
    Ok(rows.into_iter().map(|(id, addr, seen)| (id, addr, now - seen)).collect())
}

/// The tenants with sockets on any node alive now.
pub(crate) async fn tenants_with_sockets(
    state: &AppState,
) -> Result<Vec<pulse_protocol::events::Id>, sqlx::Error> {
    let since = state.clock.now_ms() - PEER_TIMEOUT_MS;
    let mut conn = state.db.acquire().await?;
    db::nodes::tenants_since(&mut conn, since).await
}

/// Takes and keeps leadership when it is free. Runs until aborted.
pub(crate) async fn run_election(state: AppState) {
    if state.db.backend() == Backend::Sqlite {
        state.node.set_leader(true);
        return;
    }
    loop {
        if let Ok(mut conn) = AnyConnection::connect(state.db.url()).await {
            lead_while_connected(&state, &mut conn).await;
        }
        state.node.set_leader(false);
        tokio::time::sleep(BEAT).await;
    }
}

async fn lead_while_connected(state: &AppState, conn: &mut AnyConnection) {
    loop {
        match db::nodes::try_lead(conn).await {
            Ok(true) => break,
            Ok(false) => tokio::time::sleep(BEAT).await,
            Err(_) => return,
        }
    }
    state.node.set_leader(true);
    while db::nodes::alive(conn).await.is_ok() {
        tokio::time::sleep(BEAT).await;
    }
}
