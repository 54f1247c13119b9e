//! This module deals with `notification:mark-read`: a user marking one or all of their
//! notifications read. The change is logged user-scoped, so the user's other tabs follow.

use pulse_protocol::events::{MarkRead, NotificationRead, NotificationsRead};

use super::{begin, Begin};
use crate::auth::Caller;
use crate::db;
use crate::error::AppError;
use crate::state::AppState;

/// Marks notifications read; returns the ids that changed (empty when none were unread).
pub(crate) async fn mark_read(
    state: &AppState,
    caller: &Caller,
    input: MarkRead,
) -> Result<NotificationsRead, AppError> {
    let user_id =
        caller.user_id.ok_or_else(|| AppError::forbidden("only users have notifications"))?;
    let mut change = match begin::<NotificationsRead>(
        state,
        caller,
        pulse_protocol::events::NOTIFICATION_MARK_READ,
        None,
    )
    .await?
    {
        Begin::Done(r) => return Ok(r),
        Begin::Go(c) => c,
    };
    if let Some(id) = input.id {
        match db::notifications::owner_of(change.conn(), id).await? {
            None => return Err(AppError::not_found(format!("notification {id} does not exist"))),
            Some(owner) if owner != user_id => {
                return Err(AppError::forbidden("notification belongs to someone else"))
            }
            Some(_) => {}
        }
    }
    let ids = db::notifications::mark_read(change.conn(), user_id, input.id).await?;
    let read = NotificationsRead { ids };
    if !read.ids.is_empty() {
        change.append_for::<NotificationRead>(user_id, &read)?;
    }
    change.commit(&read).await?;
    Ok(read)
}
