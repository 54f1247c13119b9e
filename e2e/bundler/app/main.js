// A tiny app as a web developer would write it: the SDK imported by its package name, the
// wasm left to the bundler, served from the same origin as the Pulse server.
import init, { PulseClient } from '@pulse-realtime/sdk';

const $ = (id) => document.getElementById(id);

await init();
const res = await fetch('/api/auth/login', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ email: 'admin@pulse.demo', password: 'pulse-demo' }),
});
const { token } = await res.json();
const client = new PulseClient(location.origin, { token });
window.pulseClient = client;
client.onStatus((s) => {
  $('status').value = s.state;
  $('status').dataset.state = s.state;
});
client.on('payment:added', (env) => {
  $('payment').value = `${env.data.note} #${env.seq}`;
});
const ack = await client.emitWithAck('ping');
$('ping').value = ack.ok ? 'ok' : ack.error.code;
