//! This module deals with admitting a socket: its CONNECT auth payload read once (token,
//! resume position, topics), the token and session checked, its user still active, and a
//! connection slot taken. What it leaves in the socket's extensions is what the rest of
//! `realtime` reads.

use pulse_protocol::events::{ConnectAuth, Topics};
use pulse_protocol::{ErrorCode, WireError};
use socketioxide::extract::{SocketRef, TryData};

use super::admitted::Admitted;
use super::limits;
use super::quota::Full;
use crate::auth::{check_active, verify_token, SIGNED_OUT};
use crate::db;
use crate::error::AppError;
use crate::peer::request_ip;
use crate::state::AppState;

/// Why a socket may not join, shown as `"<CODE>: <message>"` in CONNECT_ERROR's `message`
/// (socketioxide sends the middleware error's `Display`).
#[derive(Debug)]
pub(crate) struct ConnectRefusal(pub(crate) WireError);

impl std::fmt::Display for ConnectRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // WireError's Display is exactly "<CODE>: <message>".
        self.0.fmt(f)
    }
}

/// Where the socket resumes from (`lastSeq` and `epoch` of the CONNECT auth payload).
#[derive(Debug, Clone)]
pub(crate) struct ResumeFrom(pub(crate) Option<u64>, pub(crate) Option<String>);

/// The connect middleware: token, then connection limits. On success the socket carries its
/// [`Admitted`] and [`ResumeFrom`] in its extensions.
pub(crate) async fn authenticate_socket(
    state: AppState,
    socket: SocketRef,
    auth: TryData<serde_json::Value>,
) -> Result<(), ConnectRefusal> {
    let refuse = |e: AppError| {
        let w = e.into_wire();
        tracing::debug!(code = w.code.as_str(), "socket refused");
        ConnectRefusal(w)
    };
    // No auth at all reads as an empty one (and is refused below for its missing token); a
    // malformed one, e.g. an unknown topic, says what is wrong with it.
    let auth = match auth.0 {
        Ok(v) if !v.is_null() => serde_json::from_value::<ConnectAuth>(v)
            .map_err(|e| refuse(AppError::invalid(format!("CONNECT auth payload: {e}"))))?,
        _ => ConnectAuth::default(),
    };
    let token = auth
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| refuse(AppError::unauthorized("missing token")))?;
    let caller = verify_token(&state, &token).map_err(refuse)?;
    if let Some(sid) = &caller.session_id {
        let mut conn = state.db.acquire().await.map_err(|e| refuse(e.into()))?;
        if db::refresh_tokens::session_revoked(&mut conn, sid)
            .await
            .map_err(|e| refuse(e.into()))?
        {
            return Err(refuse(AppError::unauthorized(SIGNED_OUT)));
        }
    }
    check_active(&state, &caller).await.map_err(refuse)?;
    let ip = request_ip(socket.req_parts(), &state);
    let seat = state.quota.take(caller.user_id, ip).map_err(|full| {
        refuse(AppError::new(
            ErrorCode::RateLimited,
            match full {
                Full::User => "too many connections for this user",
                Full::Ip => "too many connections from this address",
            },
        ))
    })?;
    let topics = auth.topics.unwrap_or_else(Topics::all);
    Admitted::insert(&socket, caller, topics, limits::budget(&state), seat);
    socket.extensions.insert(ResumeFrom(auth.last_seq, auth.epoch));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_display_with_their_code() {
        let r = ConnectRefusal(WireError::new(ErrorCode::TokenExpired, "token expired"));
        assert_eq!(r.to_string(), "TOKEN_EXPIRED: token expired");
    }
}
