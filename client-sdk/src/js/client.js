// The events package's `PulseClient` (feature `js`; src/js/machine.rs has the other half).
// JavaScript does the browser's work here: it opens the WebSockets, makes the long-polling
// and fallback requests with `fetch`, keeps one timer, keeps the outbox in localStorage and
// parses payloads with JSON.parse. Every decision (handshake, heartbeat, acks, reconnection,
// resume, the upgrade, polling's policy) is the machines', in wasm: this file hands them each
// input and does what their outputs say. Most live events never reach wasm (fast.js).
import init, { initSync, Machine } from './machine.js';
import { add, gate, listen, remove } from './fast.js';

export default init;
export { initSync };

// Clients in use stay reachable until `disconnect()`, as a socket.io-client socket does.
const inUse = new Set();

// For state.js, which adds the live state's methods: a call into the machine (with its
// outputs worked through after it), and a handler id from the client's one counter.
export const machine = Symbol('machine');
export const nextId = Symbol('nextId');
const KEY = 'idempotency_key';

function coded(message, code) {
  const e = new Error(message);
  e.code = code;
  return e;
}

// `data` as JSON text (`undefined` when it has none, as JSON.stringify says).
export function json(data) {
  try {
    return JSON.stringify(data);
  } catch {
    throw new Error('payload is not JSON-serialisable');
  }
}

// An event's arguments: none, or `data`.
const argsText = (data) => (data === undefined ? '[]' : `[${json(data) ?? 'null'}]`);

// A request's answer as the machine takes it: [status, body], status 0 when none came.
const answered = (r) => r.text().then((body) => [r.status, body]);
const failed = (e) => [0, String(e)];

// The localStorage entry of an action: the prefix, then its key in hex (as the live-state
// package keeps them, so either package restores what the other left).
function entry(prefix, key) {
  let hex = '';
  for (const b of new TextEncoder().encode(key)) hex += b.toString(16).padStart(2, '0');
  return prefix + hex;
}

export class PulseClient {
  #m;
  #q = [];
  #busy = false;
  #g;
  #token;
  #credentials;
  #ids = 0;
  #subs = new Map(); // `on` id → [event, handler]
  #statusHandlers = new Map(); // `onStatus` id → handler
  #acks = new Map(); // ack id → [resolve, reject, outbox key]
  #ws = new Map();
  #http = new Map();
  #poll = null;
  #timer = 0;
  #store = null;
  #restored = [];
  // The last log entry applied, as the fast path applies them: told to the machine before its
  // next call (one call per slow-path step, not one per live event), and taken back from it
  // when it moves there (replays, a new epoch).
  #last = -1;
  #told = true;

  constructor(url, options) {
    const o = options ?? {};
    this.#token = o.token ?? null;
    this.#credentials = o.withCredentials ? 'include' : 'same-origin';
    const [logged, error, status] = Machine.names();
    this.#g = gate((seq) => {
      if (seq <= this.#last) return false;
      this.#last = seq;
      this.#told = false;
      return true;
    }, logged, error, status);
    this.#m = new Machine(url, JSON.stringify(o), (k, a, b, c) => this.#q.push(k, a, b, c));
    inUse.add(this);
    if (typeof o.outbox === 'string') this.#restore(o.outbox);
    this.#call((m) => m.connect());
  }

  // One call into the machine, then its outputs. A page's handler may call the client while
  // they are worked through: what that call outputs joins the same queue.
  #call(f) {
    const r = f(this.#sync());
    this.#flush();
    return r;
  }

  // The machine, told what the fast path applied since.
  #sync() {
    if (!this.#told) {
      this.#told = true;
      this.#m.accept(this.#last);
    }
    return this.#m;
  }

  #flush() {
    if (this.#busy) return;
    this.#busy = true;
    const q = this.#q;
    for (let i = 0; i < q.length; i += 4) {
      try {
        this.#output(q[i], q[i + 1], q[i + 2], q[i + 3]);
      } catch (e) {
        // Reported, without dropping the outputs after it.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
    q.length = 0;
    this.#busy = false;
  }

  // The numbers are src/js/machine.rs' output kinds.
  #output(k, a, b, c) {
    switch (k) {
      case 0: return this.#open(a, b);
      case 1: return this.#ws.get(a)?.send(b);
      case 2: return this.#close(a);
      case 3: return this.#request(a, b, 'GET');
      case 4: return this.#request(a, b, 'POST', c);
      case 5: this.#http.get(a)?.abort(); return this.#http.delete(a);
      case 6: return this.#fallback(a, b, c);
      case 7: this.#poll?.abort(); this.#poll = null; return;
      // The token now, or refused without one (`setToken` brings one later).
      case 8: return queueMicrotask(() => this.#call((m) => m.auth(this.#token ?? undefined)));
      case 9: return this.#each([...this.#statusHandlers.values()], a);
      case 10: return this.#dispatch(a, b);
      case 11: return this.#answer(a, b, c);
      case 12:
        this.#g.ws = a === undefined ? null : this.#ws.get(a) ?? null;
        this.#g.until = performance.now() + (b ?? 0);
        return;
      case 13:
        clearTimeout(this.#timer);
        if (a >= 0) this.#timer = setTimeout(() => this.#call((m) => m.timeout()), Math.ceil(a));
        return;
      case 14: this.#last = a ?? -1;
    }
  }

  #open(id, url) {
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      return queueMicrotask(() => this.#call((m) => m.wsClosed(id, `cannot open WebSocket: ${e}`)));
    }
    ws.binaryType = 'arraybuffer';
    this.#ws.set(id, ws);
    ws.onopen = () => this.#call((m) => m.wsOpen(id));
    // fast.js takes the frames it can while the gate is open on this socket; the rest come here.
    listen(ws, this.#g, (e) =>
      this.#call((m) => (typeof e.data === 'string' ? m.wsText(id, e.data) : m.wsBinary(id, new Uint8Array(e.data)))));
    // An error is always followed by a close event, which carries the code.
    ws.onclose = (e) => {
      this.#ws.delete(id);
      this.#call((m) => m.wsClosed(id, e.reason ? `closed (${e.code}): ${e.reason}` : `closed (${e.code})`));
    };
  }

  #close(id) {
    const ws = this.#ws.get(id);
    if (!ws) return;
    this.#ws.delete(id);
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.close();
  }

  #request(id, url, method, body) {
    const abort = new AbortController();
    this.#http.set(id, abort);
    const headers = body === undefined ? {} : { 'content-type': 'text/plain;charset=UTF-8' };
    fetch(url, { method, body, headers, credentials: this.#credentials, signal: abort.signal })
      .then(answered)
      .catch(failed)
      .then(([status, text]) => {
        if (this.#http.get(id) !== abort) return; // cancelled
        this.#http.delete(id);
        this.#call((m) => m.http(id, status, text));
      });
  }

  #fallback(events, stats, token) {
    this.#poll?.abort();
    const abort = (this.#poll = new AbortController());
    const get = (url) =>
      fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: abort.signal })
        .then(answered)
        .catch(failed);
    Promise.all([events && get(events), get(stats)]).then(([ev, st]) => {
      if (this.#poll !== abort) return; // cancelled
      this.#poll = null;
      this.#call((m) => m.polled(ev?.[0], ev?.[1] ?? '', st[0], st[1]));
    });
  }

  // One handler's exception does not stop the others.
  #each(handlers, ...args) {
    for (const h of handlers) {
      try {
        h(...args);
      } catch {
        // Left to the page.
      }
    }
  }

  #dispatch(event, text) {
    const hs = this.#g.on.get(event);
    if (hs) this.#each(hs, text === undefined ? undefined : JSON.parse(text), event);
  }

  #answer(id, reply, error) {
    const waiter = this.#acks.get(id);
    if (!waiter) return;
    this.#acks.delete(id);
    const [resolve, reject, key] = waiter;
    if (error === undefined) {
      if (key) this.#forget(key);
      return resolve(reply === undefined ? undefined : JSON.parse(reply));
    }
    const at = error.indexOf(' ');
    const code = error.slice(0, at);
    // Answered, refused or timed out: the page was told. Closed (a disconnect) leaves the
    // action stored for the next client.
    if (key && code !== 'CLOSED') this.#forget(key);
    reject(coded(error.slice(at + 1), code));
  }

  // Sends through `send` (which returns the ack id) and gives the answer's promise; the
  // promise is registered before the machine's outputs are worked through.
  #ask(send, key) {
    const id = send(this.#sync());
    const reply = new Promise((resolve, reject) => this.#acks.set(id, [resolve, reject, key]));
    this.#flush();
    return reply;
  }

  #forget(key) {
    try {
      localStorage.removeItem(entry(this.#store, key));
    } catch {
      // No storage: nothing kept.
    }
  }

  #restore(prefix) {
    this.#store = prefix;
    const found = [];
    try {
      for (let i = 0; i < localStorage.length; i++) {
        const k = localStorage.key(i);
        if (!k.startsWith(prefix)) continue;
        try {
          const a = JSON.parse(localStorage.getItem(k));
          if (typeof a.key === 'string' && typeof a.event === 'string' && 'payload' in a && Number.isSafeInteger(a.at_ms)) found.push(a);
        } catch {
          // Not an action: left alone.
        }
      }
    } catch {
      return; // no storage
    }
    // As the Rust client (outbox::in_order): by time, then the shorter key, so `…-9` of a
    // client's counter comes before its `…-10` made in the same millisecond.
    found.sort((x, y) => x.at_ms - y.at_ms || x.key.length - y.key.length || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    for (const a of found) {
      const meta = a.meta ?? null;
      // Sent when the connection is back, which may take a while.
      const reply = this.#try(() => this.#action(a.event, a.payload, meta, 30 * 60 * 1000, a.at_ms));
      // A page that never asks for its restored actions is not told of their failures.
      reply.catch(() => {});
      this.#restored.push({ event: a.event, data: a.payload, meta, reply });
    }
  }

  #action(event, data, meta, timeoutMs, restoredAt) {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw coded("an action's payload must be a JSON object", 'STORAGE');
    }
    const key = typeof data[KEY] === 'string' ? data[KEY] : this.#m.key();
    const payload = { ...data, [KEY]: key };
    const args = argsText(payload);
    if (this.#store !== null) {
      const action = { key, event, payload, meta: meta === undefined ? null : meta, at_ms: restoredAt ?? Date.now() };
      try {
        localStorage.setItem(entry(this.#store, key), JSON.stringify(action));
      } catch {
        throw coded('localStorage is full', 'STORAGE');
      }
    }
    try {
      return this.#ask((m) => m.emit(event, args, timeoutMs ?? 0), key);
    } catch (e) {
      // Refused before it left: a new action is not kept; a restored one stays.
      if (this.#store !== null && restoredAt === undefined) this.#forget(key);
      throw e;
    }
  }

  #try(f) {
    try {
      return f();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #topic(topic, on) {
    return this.#try(() => this.#ask((m) => m.subscribe(topic, on))).then((r) => {
      if (r && r.ok) return r.data;
      throw coded(r?.error?.message ?? 'not an action\'s answer', r?.error?.code ?? 'REPLY');
    });
  }

  [machine](f) {
    return this.#call(f);
  }

  [nextId]() {
    return ++this.#ids;
  }

  on(event, handler) {
    const id = ++this.#ids;
    add(this.#g, event, handler);
    this.#subs.set(id, [event, handler]);
    return id;
  }

  onStatus(handler) {
    const id = ++this.#ids;
    this.#statusHandlers.set(id, handler);
    return id;
  }

  off(id) {
    const sub = this.#subs.get(id);
    if (sub) {
      this.#subs.delete(id);
      remove(this.#g, sub[0], sub[1]);
      return true;
    }
    return this.#statusHandlers.delete(id);
  }

  emit(event, data) {
    const args = argsText(data);
    this.#call((m) => m.emit(event, args, undefined));
  }

  emitWithAck(event, data, timeoutMs) {
    return this.#try(() => {
      const args = argsText(data);
      return this.#ask((m) => m.emit(event, args, timeoutMs ?? 0));
    });
  }

  emitAction(event, data, meta, timeoutMs) {
    return this.#try(() => this.#action(event, data, meta, timeoutMs));
  }

  restoredActions() {
    return this.#restored.splice(0);
  }

  subscribe(topic) {
    return this.#topic(topic, true);
  }

  unsubscribe(topic) {
    return this.#topic(topic, false);
  }

  get topics() {
    return this.#sync().topics;
  }

  get transport() {
    return this.#m.transport;
  }

  get status() {
    return this.#sync().status;
  }

  get position() {
    return this.#sync().position;
  }

  setToken(token) {
    this.#token = token ?? null;
    this.#m.setToken(this.#token ?? undefined);
  }

  connect() {
    inUse.add(this);
    this.#call((m) => m.connect());
  }

  disconnect() {
    this.#call((m) => m.disconnect());
    inUse.delete(this);
  }

  // The client is JavaScript: the garbage collector frees it once the page lets go of it
  // after `disconnect()`. Kept for the live-state package's API.
  free() {}
}

// `using client = new PulseClient(…)` (explicit resource management), as in the live-state
// package.
if (Symbol.dispose) PulseClient.prototype[Symbol.dispose] = PulseClient.prototype.free;
