//! This module deals with the second load generator: the official socket.io-client in several
//! Node.js worker processes (`bench/sio-load.mjs`), driven over its stdin and stdout, so the
//! same scenarios run against both servers through a client that is not ours. What it
//! records matches the SDK generator's (see [`crate::load`]): latency from `sent_at_us`, one
//! bit per tick number per connection, late and lost apart, disconnect reasons, its own CPU.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::load::{Tally, Target, COMPLETE_MAX, MAX_LATENCY_US};

/// How to run the Node generator.
#[derive(Debug, Clone)]
pub struct NodeGenerator {
    /// The node executable.
    pub node: PathBuf,
    /// `bench/sio-load.mjs`.
    pub script: PathBuf,
    /// Worker processes the connections are spread over.
    pub workers: usize,
}

/// The connections of a running Node generator.
pub(crate) struct Fleet {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    /// Connections that joined.
    pub(crate) up: u64,
}

/// What the generator's parent prints after the broadcast.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeTally {
    received: u64,
    duplicated: u64,
    late: u64,
    malformed: u64,
    lost_on_dropped: u64,
    undelivered: u64,
    disconnects: u64,
    last_us: u64,
    /// CPU of the workers over the broadcast window and of the parent over its life, µs.
    cpu_us: u64,
    reasons: BTreeMap<String, u64>,
    /// `[latency µs to 3 significant digits, count]`.
    hist: Vec<(u64, u64)>,
    /// The same from when each tick was due (`due_at_us`), where ticks carry it.
    #[serde(default)]
    hist_due: Vec<(u64, u64)>,
}

impl From<NodeTally> for Tally {
    fn from(t: NodeTally) -> Tally {
        Tally {
            received: t.received,
            duplicated: t.duplicated,
            late: t.late,
            malformed: t.malformed,
            lost_on_dropped: t.lost_on_dropped,
            undelivered: t.undelivered,
            disconnects: t.disconnects,
            last_us: t.last_us,
            reasons: t.reasons,
            latency: histogram(&t.hist),
            from_due: histogram(&t.hist_due),
            cpu: Some(Duration::from_micros(t.cpu_us)),
        }
    }
}

/// Latencies as the SDK generator keeps them.
fn histogram(counts: &[(u64, u64)]) -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("bounds");
    for &(v, n) in counts {
        h.record_n(v.clamp(1, MAX_LATENCY_US), n).ok();
    }
    h
}

impl NodeGenerator {
    /// Starts the generator and waits until its `connections` joined or failed.
    pub(crate) async fn open(&self, target: &Target, connections: usize) -> Result<Fleet, String> {
        let mut child = Command::new(&self.node)
            .arg(&self.script)
            .args(["--url", &target.url, "--token", &target.token])
            .args(["--connections", &connections.to_string()])
            .args(["--workers", &self.workers.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{}: {e}", self.node.display()))?;
        let stdin = child.stdin.take().ok_or("generator stdin")?;
        let mut lines = BufReader::new(child.stdout.take().ok_or("generator stdout")?).lines();
        // 100 at a time, at most 15 s each (as the SDK ramp), plus the processes' start.
        let ramp = Duration::from_secs(20 + 15 * connections.div_ceil(100) as u64);
        let line = next_line(&mut lines, ramp).await?;
        let up = line
            .strip_prefix("ready ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("generator: expected `ready`, got {line:?}"))?;
        Ok(Fleet { child, stdin, lines, up })
    }
}

impl Fleet {
    /// The broadcast window starts: the workers count their CPU from here.
    pub(crate) async fn go(&mut self) -> Result<(), String> {
        self.send("go\n").await
    }

    /// The broadcaster sent `per_conn` ticks to each connection and finished at
    /// `late_after_us − 1 s`; waits (at most [`COMPLETE_MAX`] and a margin) for the tally.
    pub(crate) async fn finish(
        mut self,
        per_conn: u64,
        late_after_us: u64,
    ) -> Result<Tally, String> {
        self.send(&format!("expect {per_conn} {late_after_us}\n")).await?;
        let line = next_line(&mut self.lines, COMPLETE_MAX + Duration::from_secs(30)).await?;
        let json = line.strip_prefix("result ").ok_or_else(|| format!("generator: {line:?}"))?;
        let _ = self.child.wait().await;
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(json) {
            if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
                return Err(format!("generator: {e}"));
            }
        }
        let tally: NodeTally =
            serde_json::from_str(json).map_err(|e| format!("generator result: {e}"))?;
        Ok(tally.into())
    }

    async fn send(&mut self, text: &str) -> Result<(), String> {
        self.stdin.write_all(text.as_bytes()).await.map_err(|e| format!("generator: {e}"))?;
        self.stdin.flush().await.map_err(|e| format!("generator: {e}"))
    }
}

async fn next_line(
    lines: &mut Lines<BufReader<ChildStdout>>,
    within: Duration,
) -> Result<String, String> {
    match tokio::time::timeout(within, lines.next_line()).await {
        Ok(Ok(Some(line))) => Ok(line),
        Ok(Ok(None)) => Err("generator exited".into()),
        Ok(Err(e)) => Err(format!("generator: {e}")),
        Err(_) => Err(format!("generator: no answer within {within:?}")),
    }
}
