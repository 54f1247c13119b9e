    // The live state's members (src/js/state.js), which scripts/build-js-sdk adds to the
    // events package's class (client.d.ts) for the package with the state.
    /**
     * The live state now: statistics, recent deliveries and payments, customers and their
     * balances, notifications with the unread count, the activity feed, alerts and the
     * connection. Plain frozen data; a part that did not change is the same object as in
     * the previous snapshot. It folds events from its first use on (`state()`, `onState`
     * or `loadState`, best right after `new PulseClient`); fill in what came before over
     * REST with `loadState`.
     */
    state(): PulseState;
    /**
     * Calls `handler(state, changed)` after the state changed, at most once per animation
     * frame (every 250 ms at most in a background tab), with the names of the parts that
     * changed; and once soon after it is added, with every part. Returns an id for `off`.
     */
    onState(handler: (state: PulseState, changed: PulseStatePart[]) => void): number;
    /**
     * Merges what was read over REST into the state, with the live events received since:
     * `stats` takes `GET /api/stats`'s answer; `deliveries`, `payments`, `customers`,
     * `notifications` and `activity` a page (`{ items }`) or an array of items. Read it after
     * `subscribe` resolved (or once `live`), so no event falls between. Throws
     * `INVALID_INPUT` for an unknown part or data of another shape, changing nothing.
     */
    loadState(part: PulseLoadablePart, data: any): void;
