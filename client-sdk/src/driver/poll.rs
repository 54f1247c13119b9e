//! This module deals with the HTTP side of fallback polling, through reqwest (fetch in the
//! browser, hyper natively): the event feed after a `seq`, and the current stats.

use pulse_protocol::events::Stats;
use pulse_protocol::rest::EventsPage;
use pulse_protocol::Envelope;

use crate::connection::Polled;

/// Entries fetched per poll; the machine asks again at once while more remain.
const PAGE: u32 = 500;

pub(crate) async fn fetch(
    base: &str,
    token: Option<&str>,
    since: Option<u64>,
) -> Result<Polled, String> {
    let http = reqwest::Client::new();
    let get = |path: String| {
        let req = http.get(format!("{base}{path}"));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    };
    let events = match since {
        Some(since) => Some(
            get(format!("/api/events?since={since}&limit={PAGE}"))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| format!("GET /api/events: {e}"))?
                .json::<EventsPage>()
                .await
                .map_err(|e| format!("GET /api/events: {e}"))?,
        ),
        None => None,
    };
    let stats = get("/api/stats".to_owned())
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("GET /api/stats: {e}"))?
        .json::<Envelope<Stats>>()
        .await
        .map_err(|e| format!("GET /api/stats: {e}"))?;
    Ok(Polled { events, stats: Some(stats) })
}
