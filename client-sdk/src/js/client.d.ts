// The JS packages' PulseClient (src/js/client.js), declared by hand: wasm-bindgen declares
// the rest of pulse_sdk.d.ts (the option, status and state types of src/js/mod.rs, and
// `init`), and scripts/build-js-sdk appends this, with the live state's members
// (state.d.ts) in the package with the state.

/**
 * A Pulse / Socket.IO v4 connection for JavaScript.
 *
 * A client lives while it is connected or trying to be, whether the page keeps a reference
 * to it or not (as a socket.io-client socket does): `new PulseClient(url, opts).on(…)` keeps
 * delivering until `disconnect()`.
 */
export class PulseClient {
    /** Nothing to release: kept from the live-state package's API (`disconnect()` ends a client). */
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Connects again after `disconnect()` or a refusal.
     */
    connect(): void;
    /**
     * Leaves the server; no automatic reconnection follows. The client may then be
     * garbage-collected once the page lets go of it.
     */
    disconnect(): void;
    /**
     * Sends an action that survives the page: `data` (an object) gets an idempotency key and,
     * with the `outbox` option, is kept in localStorage with `meta` until the server answers;
     * a later page with the same option sends it again (`restoredActions`), and the server
     * applies it once. Resolves and rejects like `emitWithAck` (`STORAGE`: it could not be
     * kept, and was not sent).
     */
    emitAction(event: string, data: any, meta: any, timeout_ms?: number | null): Promise<any>;
    /**
     * Sends an event and resolves with the server's answer (its first argument; for Pulse
     * actions `{ ok, data | error }`). Rejects with an `Error` whose `code` is
     * `ACK_TIMEOUT`, `CLOSED`, `CONNECTION_LOST`, `BUFFER_FULL`, … .
     */
    emitWithAck(event: string, data?: any, timeout_ms?: number | null): Promise<any>;
    /**
     * Sends an event (queued while offline). Throws if the offline buffer is full or the
     * payload is too large.
     */
    emit(event: string, data?: any): void;
    /**
     * Connects to `url` (`http(s)://host:port`) and keeps the connection up until
     * `disconnect()`, even if the page keeps no reference to the client.
     */
    constructor(url: string, options?: PulseClientOptions);
    /**
     * Removes the handler `on`, `onStatus` (or, with the live state, `onState`) returned `id`
     * for.
     */
    off(id: number): boolean;
    /**
     * Calls `handler(status)` whenever the connection status changes. Returns an id for `off`.
     */
    onStatus(handler: (status: PulseStatus) => void): number;
    /**
     * Calls `handler(data, event)` for each `event` from the server; `data` is its first
     * argument (for Pulse events `{ seq, ts, data }`). Returns an id for `off`.
     */
    on(event: string, handler: (data: any, event: string) => void): number;
    /**
     * The actions an earlier page left unanswered in the `outbox`, sent again when this
     * client was created; each with its `reply` to come. Given once: later calls return none.
     */
    restoredActions(): PulseRestoredAction[];
    /**
     * Replaces the token used from the next (re)connection and poll on.
     */
    setToken(token?: string | null): void;
    /**
     * Receives `topic`'s events from now on (and on every reconnection); resolves with
     * `{ topics, head }` once the server applied it (after a reconnection, while offline).
     * Load the topic's state over REST after it resolves, and nothing is missed in between.
     * Rejects with `INVALID_INPUT` for an unknown topic.
     */
    subscribe(topic: PulseTopic): Promise<PulseSubscribed>;
    /**
     * Stops receiving `topic`'s events; resolves like `subscribe`.
     */
    unsubscribe(topic: PulseTopic): Promise<PulseSubscribed>;
    /**
     * Where the client is in the server's event log, `{ seq, epoch }`, once it applied an
     * entry: keep it (e.g. in localStorage) and pass it as the `position` option of a later
     * client to resume there, across reloads.
     */
    readonly position: PulsePosition | undefined;
    /**
     * The connection status now.
     */
    readonly status: PulseStatus;
    /**
     * The topics received, or `undefined` for every topic (never restricted).
     */
    readonly topics: PulseTopic[] | undefined;
    /**
     * The transport carrying (or opening) the session now, `undefined` while none is.
     */
    readonly transport: PulseTransport | undefined;
}
