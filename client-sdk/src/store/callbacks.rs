//! This module deals with live state for any Rust UI without Leptos: a shared
//! [`LiveState`] kept in sync with a client, and a callback told what changed.

use std::sync::{Arc, Mutex};

use super::{Changes, Limits, LiveState};
use crate::client::{Client, MaybeSend, Subscription};

/// A client's live state, shared; read it with [`LiveStore::read`].
#[derive(Clone)]
pub struct LiveStore {
    state: Arc<Mutex<LiveState>>,
}

impl LiveStore {
    /// Follows `client`, calling `on_change` after each event that changed something, while
    /// the returned subscription lives.
    pub fn attach(
        client: &Client,
        limits: Limits,
        on_change: impl Fn(&LiveState, Changes) + MaybeSend + 'static,
    ) -> (LiveStore, Subscription) {
        let state =
            Arc::new(Mutex::new(LiveState { status: client.status(), ..LiveState::new(limits) }));
        let shared = state.clone();
        let sub = client.on_any(move |event| {
            let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
            let changes = s.apply(event);
            if changes.any() {
                on_change(&s, changes);
            }
        });
        (LiveStore { state }, sub)
    }

    /// Runs `f` on the current state.
    pub fn read<R>(&self, f: impl FnOnce(&LiveState) -> R) -> R {
        f(&self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Changes the state directly, e.g. to load a first page over REST.
    pub fn update<R>(&self, f: impl FnOnce(&mut LiveState) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
