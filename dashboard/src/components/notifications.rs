//! This module deals with the notification bell: the unread badge, a popover list, and
//! marking one or all read. Marking goes to the server (`notification:mark-read`), which
//! tells every tab and device of the user (`notification:read`), so the badge drops
//! everywhere; the ack applies it here at once.

use leptos::prelude::*;
use pulse_protocol::events::{Id, MarkRead, NotificationsRead, NOTIFICATION_MARK_READ};
use pulse_protocol::ToValue;
use pulse_sdk::store::Changes;

use super::clock::Clock;
use super::toast::{Toasts, Tone};
use crate::format;
use crate::live::Live;
use crate::pending::{self, Pending, PulseClient, Wording};

fn mark(id: Option<Id>) {
    let live = crate::context::<Live>();
    let pending = crate::context::<Pending>();
    let toasts = crate::context::<Toasts>();
    let client = crate::context::<PulseClient>().client();
    let op = pending.next_op();
    let label = if id.is_some() { "Mark notification read" } else { "Mark all notifications read" };
    let payload = MarkRead { id }.to_value();
    leptos::task::spawn_local(async move {
        match pending::send::<NotificationsRead>(
            client,
            pending,
            op,
            Wording {
                label: label.into(),
                done: "Marked as read".into(),
                failed: "Could not mark as read".into(),
            },
            NOTIFICATION_MARK_READ,
            payload,
        )
        .await
        {
            Ok(read) => live.update(|s| {
                for n in s.notifications.iter_mut().filter(|n| read.ids.contains(&n.id)) {
                    n.read = true;
                }
                Changes { notifications: true, ..Changes::default() }
            }),
            Err(e) => toasts.push(
                format!("mark-read:{op}"),
                Tone::Error,
                "Could not mark as read",
                e.to_string(),
            ),
        }
    });
}

/// The bell and its popover.
#[component]
pub fn NotificationBell() -> impl IntoView {
    let live = crate::context::<Live>();
    let clock = crate::context::<Clock>();
    let open = RwSignal::new(false);
    let offset = format::local_offset_min();
    let label = move || match live.unread.get() {
        0 => "Notifications, none unread".to_owned(),
        1 => "Notifications, 1 unread".to_owned(),
        n => format!("Notifications, {n} unread"),
    };
    let items = move || live.notifications.with(|n| n.iter().take(30).cloned().collect::<Vec<_>>());
    let none = Memo::new(move |_| live.notifications.with(|n| n.is_empty()));
    view! {
        <div class="bell-wrap" on:keydown=move |e| if e.key() == "Escape" { open.set(false) }>
            <button
                class="icon-btn bell"
                data-testid="bell"
                aria-haspopup="dialog"
                aria-expanded=move || open.get().to_string()
                aria-label=label
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                    <path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5-6.71V3.5a2 2 0 0 0-4 0v.79A7 7 0 0 0 5 11v5l-2 2v1h18v-1z" fill="currentColor" />
                </svg>
                <span class="badge" data-testid="unread-badge" hidden=move || live.unread.get() == 0>
                    {move || { let n = live.unread.get(); if n > 99 { "99+".to_owned() } else { n.to_string() } }}
                </span>
            </button>
            {move || open.get().then(|| view! {
                <div class="popover" role="dialog" aria-label="Notifications" data-testid="notifications">
                    <div class="popover-head">
                        <strong>"Notifications"</strong>
                        <button class="link-btn" data-testid="mark-all-read" disabled=move || live.unread.get() == 0 on:click=move |_| mark(None)>
                            "Mark all read"
                        </button>
                    </div>
                    <ul class="notif-list">
                        {move || items().into_iter().map(|n| view! {
                            <li class="notif" data-read=n.read.to_string() data-level=n.level.as_str() data-testid="notification">
                                <div class="notif-text">
                                    <strong>{n.title.clone()}</strong>
                                    <span>{n.body.clone()}</span>
                                    <time class="muted">{format::time_of_day(n.created_at, offset)} " · " {move || format::ago(clock.wall_ms.get() - n.created_at)}</time>
                                </div>
                                {(!n.read).then(|| { let id = n.id; view! {
                                    <button class="link-btn" data-testid="mark-read" aria-label=format!("Mark “{}” read", n.title) on:click=move |_| mark(Some(id))>"Mark read"</button>
                                }})}
                            </li>
                        }).collect_view()}
                    </ul>
                    {move || none.get().then(|| view! { <p class="empty pad">"No notifications yet."</p> })}
                </div>
            })}
        </div>
    }
}
