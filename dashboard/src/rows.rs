//! This module deals with the rows of an editable, live table: loaded pages, live upserts,
//! and optimistic changes that are confirmed by the server's ack or rolled back when it
//! refuses. Pure data with a key per item, so it is unit-tested natively and shared by the
//! deliveries and payments pages (and, through the submit flow, by the customers page).

use pulse_protocol::events::{Customer, Delivery, Id, Payment};

/// Something with a stable server id.
pub trait Keyed: Clone {
    /// The server id; optimistic rows that have none yet use a negative temporary one.
    fn key(&self) -> Id;
    /// Sets the temporary id of an optimistic new row.
    fn with_key(self, key: Id) -> Self;
}

impl Keyed for Delivery {
    fn key(&self) -> Id {
        self.id
    }
    fn with_key(mut self, key: Id) -> Self {
        self.id = key;
        self
    }
}

impl Keyed for Payment {
    fn key(&self) -> Id {
        self.id
    }
    fn with_key(mut self, key: Id) -> Self {
        self.id = key;
        self
    }
}

impl Keyed for Customer {
    fn key(&self) -> Id {
        self.id
    }
    fn with_key(mut self, key: Id) -> Self {
        self.id = key;
        self
    }
}

/// Where a row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    /// As the server has it.
    Saved,
    /// Sent, waiting for the ack.
    Saving,
    /// Made while the connection is down; sent when it is back.
    Queued,
}

impl RowState {
    /// The row's `data-state`: `saved`, `saving` or `queued` (a match, not `Debug` text: the
    /// formatting machinery and a lowercase table would be in the bundle for three words).
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Saved => "saved",
            RowState::Saving => "saving",
            RowState::Queued => "queued",
        }
    }

    /// The row's chip, for people; `live` says whether queued rows are being sent now.
    pub fn label(self, live: bool) -> Option<&'static str> {
        match self {
            RowState::Saved => None,
            RowState::Saving => Some("Saving…"),
            RowState::Queued if live => Some("Sending…"),
            RowState::Queued => Some("Queued · sent when back online"),
        }
    }
}

/// One row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<T> {
    /// The item as shown.
    pub item: T,
    /// Whether the server has confirmed it.
    pub state: RowState,
    /// The action that made it pending, for confirm and rollback.
    pub op: Option<u64>,
    /// What the row showed before an optimistic edit, restored on rollback.
    prev: Option<T>,
}

/// A bounded table, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows<T> {
    /// The rows in display order.
    pub rows: Vec<Row<T>>,
    cap: usize,
}

impl<T: Keyed> Rows<T> {
    /// An empty table keeping at most `cap` rows.
    pub fn new(cap: usize) -> Self {
        Rows { rows: Vec::new(), cap }
    }

    /// Replaces the saved rows with a freshly loaded page; pending rows stay on top.
    pub fn load(&mut self, items: Vec<T>) {
        let pending: Vec<Row<T>> = self.rows.drain(..).filter(|r| r.op.is_some()).collect();
        self.rows = pending;
        for item in items {
            if !self.rows.iter().any(|r| r.item.key() == item.key()) {
                self.rows.push(Row { item, state: RowState::Saved, op: None, prev: None });
            }
        }
        self.rows.truncate(self.cap);
    }

    /// A saved item from a live event: replaces its row wherever it is, or goes on top. A
    /// pending edit of the same row is overtaken by the server's state, so it becomes the
    /// new rollback point instead of being overwritten.
    pub fn upsert(&mut self, item: T) {
        if let Some(r) = self.rows.iter_mut().find(|r| r.item.key() == item.key()) {
            if r.op.is_some() {
                r.prev = Some(item);
            } else {
                r.item = item;
            }
            return;
        }
        self.rows.insert(0, Row { item, state: RowState::Saved, op: None, prev: None });
        self.rows.truncate(self.cap);
    }

    /// An optimistic new row for action `op`.
    pub fn add_pending(&mut self, op: u64, item: T, queued: bool) {
        let item = item.with_key(-(op as Id));
        let state = if queued { RowState::Queued } else { RowState::Saving };
        self.rows.insert(0, Row { item, state, op: Some(op), prev: None });
    }

    /// An optimistic edit of the row with `item`'s key, for action `op`.
    pub fn edit_pending(&mut self, op: u64, item: T, queued: bool) {
        let state = if queued { RowState::Queued } else { RowState::Saving };
        match self.rows.iter_mut().find(|r| r.item.key() == item.key()) {
            Some(r) => {
                let prev = std::mem::replace(&mut r.item, item);
                r.prev.get_or_insert(prev);
                r.state = state;
                r.op = Some(op);
            }
            None => self.rows.insert(0, Row { item, state, op: Some(op), prev: None }),
        }
    }

    /// Marks the rows of `op` as sent (the connection came back).
    pub fn mark_sending(&mut self, op: u64) {
        for r in self.rows.iter_mut().filter(|r| r.op == Some(op)) {
            r.state = RowState::Saving;
        }
    }

    /// The server applied `op` and answered with `saved`: the optimistic row becomes it.
    /// A live event for the same item may already have added a row; it is not duplicated.
    pub fn confirm(&mut self, op: u64, saved: T) {
        let key = saved.key();
        self.rows.retain(|r| r.op == Some(op) || r.item.key() != key);
        match self.rows.iter_mut().find(|r| r.op == Some(op)) {
            Some(r) => *r = Row { item: saved, state: RowState::Saved, op: None, prev: None },
            None => self.upsert(saved),
        }
    }

    /// The server refused `op`: a new row disappears, an edited row shows its old values.
    pub fn rollback(&mut self, op: u64) {
        let mut i = 0;
        while i < self.rows.len() {
            if self.rows[i].op == Some(op) {
                match self.rows[i].prev.take() {
                    Some(prev) => {
                        self.rows[i] =
                            Row { item: prev, state: RowState::Saved, op: None, prev: None }
                    }
                    None => {
                        self.rows.remove(i);
                        continue;
                    }
                }
            }
            i += 1;
        }
    }

    /// Rows not yet confirmed.
    pub fn pending(&self) -> usize {
        self.rows.iter().filter(|r| r.op.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_state_names_are_the_lowercase_variant_names() {
        // The end-to-end tests read these from `data-state`.
        for s in [RowState::Saved, RowState::Saving, RowState::Queued] {
            assert_eq!(s.as_str(), format!("{s:?}").to_lowercase());
        }
    }

    fn d(id: Id, qty: f64) -> Delivery {
        Delivery {
            id,
            customer_id: 1,
            customer_name: "Amina".into(),
            date: "2026-11-22".into(),
            quantity: qty,
            price_per_liter: 1.0,
            amount: qty,
            updated_at: id,
        }
    }

    fn keys(t: &Rows<Delivery>) -> Vec<Id> {
        t.rows.iter().map(|r| r.item.key()).collect()
    }

    #[test]
    fn row_states_read_for_people() {
        assert_eq!(RowState::Saved.label(true), None);
        assert_eq!(RowState::Saving.label(true), Some("Saving…"));
        assert_eq!(RowState::Queued.label(false), Some("Queued · sent when back online"));
        assert_eq!(RowState::Queued.label(true), Some("Sending…"));
    }

    #[test]
    fn live_upserts_replace_in_place_and_stay_bounded() {
        let mut t = Rows::new(3);
        t.load(vec![d(3, 1.0), d(2, 1.0), d(1, 1.0)]);
        t.upsert(d(2, 9.0));
        assert_eq!(keys(&t), [3, 2, 1]);
        assert_eq!(t.rows[1].item.quantity, 9.0);
        t.upsert(d(4, 1.0));
        assert_eq!(keys(&t), [4, 3, 2]);
    }

    #[test]
    fn a_new_row_is_confirmed_once_even_if_the_event_came_first() {
        let mut t = Rows::new(10);
        t.load(vec![d(1, 1.0)]);
        t.add_pending(7, d(0, 2.0), false);
        assert_eq!(keys(&t), [-7, 1]);
        assert_eq!(t.rows[0].state, RowState::Saving);
        t.upsert(d(5, 2.0)); // the broadcast overtook the ack
        t.confirm(7, d(5, 2.0));
        assert_eq!(keys(&t), [5, 1]);
        assert_eq!((t.rows[0].state, t.pending()), (RowState::Saved, 0));
    }

    #[test]
    fn refused_actions_roll_back() {
        let mut t = Rows::new(10);
        t.load(vec![d(2, 1.0), d(1, 1.0)]);
        t.add_pending(1, d(0, 3.0), true);
        t.edit_pending(2, d(1, 8.0), false);
        assert_eq!(t.rows[0].state, RowState::Queued);
        assert_eq!(t.rows[2].item.quantity, 8.0);
        t.rollback(1);
        t.rollback(2);
        assert_eq!(keys(&t), [2, 1]);
        assert_eq!((t.rows[1].item.quantity, t.rows[1].state), (1.0, RowState::Saved));
    }

    #[test]
    fn a_reload_keeps_pending_rows() {
        let mut t = Rows::new(10);
        t.add_pending(3, d(0, 1.0), true);
        t.load(vec![d(9, 1.0)]);
        assert_eq!(keys(&t), [-3, 9]);
        t.mark_sending(3);
        assert_eq!(t.rows[0].state, RowState::Saving);
    }

    #[test]
    fn a_live_event_during_a_pending_edit_becomes_the_rollback_point() {
        let mut t = Rows::new(10);
        t.load(vec![d(1, 1.0)]);
        t.edit_pending(4, d(1, 5.0), false);
        t.upsert(d(1, 2.0));
        assert_eq!(t.rows[0].item.quantity, 5.0);
        t.rollback(4);
        assert_eq!(t.rows[0].item.quantity, 2.0);
    }
}
