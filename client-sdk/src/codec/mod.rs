//! This module deals with turning packets into WebSocket frames and back, for the two protocol
//! layers: Engine.IO v4 ([`eio`]) carries Socket.IO v5 ([`sio`]). Pure functions and one small
//! reassembly buffer; no IO, no clock.

pub mod eio;
pub mod sio;

/// One WebSocket message, as the transport sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame (every Engine.IO packet but binary messages).
    Text(String),
    /// A binary frame (an Engine.IO binary message: a Socket.IO attachment).
    Binary(Vec<u8>),
}

/// Why bytes could not be decoded. The message names the offending part so logs are useful.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame was empty.
    #[error("empty packet")]
    Empty,
    /// The leading packet-type character is not one the protocol defines.
    #[error("unknown {layer} packet type {found:?}")]
    UnknownType {
        /// `engine.io` or `socket.io`.
        layer: &'static str,
        /// The character found.
        found: char,
    },
    /// A JSON body did not parse or had the wrong shape.
    #[error("invalid {what}: {detail}")]
    Json {
        /// Which part was being decoded.
        what: &'static str,
        /// serde's message.
        detail: String,
    },
    /// The packet's header (attachment count, namespace, ack id) is malformed.
    #[error("malformed header: {0}")]
    Header(&'static str),
    /// A binary frame arrived when no packet was waiting for attachments.
    #[error("unexpected binary frame")]
    UnexpectedBinary,
    /// A text packet arrived while attachments of a previous packet were still expected.
    #[error("text packet while {0} binary attachment(s) were pending")]
    AttachmentsPending(usize),
    /// The frame exceeds the negotiated maxPayload.
    #[error("packet of {size} bytes exceeds maxPayload {max}")]
    TooLarge {
        /// Size of the frame.
        size: usize,
        /// The limit.
        max: usize,
    },
}
