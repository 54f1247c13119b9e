// The live-state package's `PulseClient` (feature `js-state`): the events package's client
// (client.js) with `state()`, `onState` and `loadState` over the store the machine feeds in
// wasm (src/js/state.rs). From the first of them on, every event goes through the machine
// (the fast path shuts), since the store must see each.
import init, { initSync } from './machine.js';
import { PulseClient as EventsClient, json, machine, nextId } from './client.js';

export default init;
export { initSync };

export class PulseClient extends EventsClient {
  state() {
    return this[machine]((m) => m.state());
  }

  onState(handler) {
    const id = this[nextId]();
    this[machine]((m) => m.onState(id, handler));
    return id;
  }

  loadState(part, data) {
    const text = json(data) ?? 'null';
    this[machine]((m) => m.loadState(part, text));
  }

  off(id) {
    return this[machine]((m) => m.stateOff(id)) || super.off(id);
  }
}
