// A small official Node.js socket.io@4 server for the native SDK's interoperability tests
// (client-sdk/tests/interop.rs). Usage: node node-server.mjs <port>; prints "ready <port>".
import { Server } from 'socket.io';

const port = Number(process.argv[2] ?? 0);
const io = new Server(port, { pingInterval: 300, pingTimeout: 300 });

io.use((socket, next) => {
  const { token } = socket.handshake.auth ?? {};
  if (token === 'good') return next();
  const err = new Error(token ? 'UNAUTHORIZED: invalid token' : 'UNAUTHORIZED: missing token');
  err.data = { code: 'UNAUTHORIZED' };
  next(err);
});

io.on('connection', (socket) => {
  socket.emit('hello', { from: 'node', lastSeq: socket.handshake.auth.lastSeq ?? null }, 42);
  socket.on('echo', (...args) => {
    const ack = args.pop();
    ack(...args);
  });
  socket.on('upload', (meta, bytes, ack) => {
    ack({ name: meta.name, size: bytes.length, sum: [...bytes].reduce((a, b) => a + b, 0) });
  });
  socket.on('send-me-binary', (ack) => {
    socket.emit('binary', { kind: 'bytes' }, Buffer.from([1, 2, 3, 250]));
    ack('sent');
  });
  socket.on('ask-me', async () => {
    const answer = await socket.timeout(2000).emitWithAck('question', 'ping?');
    socket.emit('answer-was', answer);
  });
  socket.on('kick-me', () => socket.disconnect(true));
  // Which transport carries this client now, as the server sees it: polling or websocket.
  socket.on('transport?', (ack) => ack(socket.conn.transport.name));
  // Emits `name` n times, then acks: events are queued before the ack on the same socket.
  socket.on('repeat', (name, n, ack) => {
    for (let i = 0; i < n; i++) socket.emit(name, i);
    ack(n);
  });
});

const { port: actual } = io.httpServer.address();
console.log(`ready ${actual}`);
process.on('SIGTERM', () => io.close(() => process.exit(0)));
