//! This module deals with the SDK's one public error type.

use pulse_protocol::{ErrorCode, WireError};

use crate::codec::DecodeError;

/// Why the server refused to let us join (a CONNECT_ERROR packet), or ended the session for
/// an auth reason with no usable new credentials to follow.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// The server's message as sent, e.g. "TOKEN_EXPIRED: token expired".
    pub message: String,
    /// Extra data the server attached (Node.js servers put `{ code }` there).
    pub data: Option<serde_json::Value>,
    /// The Pulse error code, read once on receipt ([`WireError::from_wire`]); `None` from a
    /// server that gave none.
    pub code: Option<ErrorCode>,
}

/// Everything that can go wrong for an SDK user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The server sent bytes that are not valid Socket.IO.
    #[error("decode error: {0}")]
    Decode(#[from] DecodeError),
    /// The server refused the connection (bad or expired token, …).
    #[error("connection refused by server: {}", .0.message)]
    Rejected(ConnectError),
    /// No acknowledgement arrived in time.
    #[error("acknowledgement timed out")]
    AckTimeout,
    /// The client was disconnected (by the user or the server) before this could complete.
    #[error("connection closed")]
    Closed,
    /// Too many emits are queued while offline.
    #[error("send buffer full ({capacity} emits queued while offline)")]
    BufferFull {
        /// The configured capacity.
        capacity: usize,
    },
    /// The packet is larger than the server accepts.
    #[error("payload of {size} bytes exceeds the server's maxPayload of {max}")]
    PayloadTooLarge {
        /// Encoded size.
        size: usize,
        /// The server's limit.
        max: usize,
    },
    /// The connection dropped after the emit was sent and before its answer; the server may
    /// or may not have applied it. (Emits with an idempotency key are resent instead.)
    #[error("connection lost before the server answered")]
    ConnectionLost,
    /// The server answered the action with an error.
    #[error("server error {0}")]
    Server(WireError),
    /// The reply did not have the expected shape.
    #[error("unexpected reply: {0}")]
    Reply(String),
    /// An action could not be stored in its [`Outbox`](crate::outbox::Outbox) (e.g. the
    /// browser's storage is full), so it was not sent.
    #[error("the action could not be stored: {0}")]
    Storage(String),
    /// The transport failed (network, HTTP).
    #[error("transport error: {0}")]
    Transport(String),
}
