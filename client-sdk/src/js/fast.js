// The JS package's receive path for the frames that make most of the traffic: an event in
// the default namespace with no ack id (`42[…]`) on a live WebSocket session. The browser
// parses it once with JSON.parse, as socket.io-client does, and calls the page's handlers
// from here; wasm is called only for a log entry's `seq` (applied once). Every other frame,
// and every frame while the Rust side says no (`gate.ws` is not this socket), takes the slow
// path: the machines in wasm, which decide everything the fast path does not.

// `logged`: the names of log entries, whose `seq` `accept` applies; `error` and `status`: the
// names of the events the machines always take. All come from the protocol's catalogue.
export function gate(accept, logged, error, status) {
  // ws: the WebSocket whose frames may take this path; until: the heartbeat's deadline
  // (performance.now() ms), after which a frame belongs to a session the server dropped;
  // on: event name → the page's handlers, an array replaced (not changed) on every add or
  // remove, so a handler that unsubscribes during dispatch changes nothing mid-loop.
  return { ws: null, until: 0, on: new Map(), accept, logged: new Set(logged), kept: new Set([error, status]) };
}

export function listen(ws, g, slow) {
  ws.onmessage = (e) => {
    const d = e.data;
    if (g.ws !== ws || typeof d !== "string" || !fast(g, d)) slow(e);
  };
}

function fast(g, d) {
  // "4" Engine.IO message, "2" Socket.IO EVENT, "[" default namespace and no ack id.
  if (d.charCodeAt(0) !== 52 || d.charCodeAt(1) !== 50 || d.charCodeAt(2) !== 91) return false;
  if (performance.now() >= g.until) return false;
  let a;
  try {
    a = JSON.parse(d.slice(2));
  } catch {
    return false; // the machines reject it and say why
  }
  const name = a[0];
  if (typeof name !== "string" || g.kept.has(name)) return false;
  const data = a[1];
  if (g.logged.has(name)) {
    const seq = data == null ? undefined : data.seq;
    if (Number.isSafeInteger(seq) && seq >= 0 && !g.accept(seq)) return true; // applied before
  }
  const hs = g.on.get(name);
  if (hs !== undefined) {
    for (const h of hs) {
      try {
        h(data, name);
      } catch {
        // As on the slow path: one handler's exception does not stop the others.
      }
    }
  }
  return true;
}

export function add(g, name, h) {
  g.on.set(name, [...(g.on.get(name) ?? []), h]);
}

// One registration of `h`: the same function may be registered twice, and is then called
// twice, as on the slow path.
export function remove(g, name, h) {
  const hs = [...(g.on.get(name) ?? [])];
  const at = hs.indexOf(h);
  if (at >= 0) hs.splice(at, 1);
  if (hs.length === 0) g.on.delete(name);
  else g.on.set(name, hs);
}
