// Holds many WebSocket connections open against a server, answering its pings (the `ws` package does), then closes
// them and reports what happened: how many opened, how many were refused and with what status.
//   node bench/abuse/hold.mjs PORT COUNT SECONDS [PATH]
// Uses the `ws` package installed for the interop tests (tests/interop/node; ./test.sh or `npm ci` there installs it).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../tests/interop/node/package.json'));
const WebSocket = require('ws');

const [port, count, seconds, route = '/'] = [Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4]), process.argv[5]];
if (!port || !count || !seconds) {
  console.error('usage: node bench/abuse/hold.mjs PORT COUNT SECONDS [PATH]');
  process.exit(2);
}

const open = new Set();
const outcomes = new Map();
const count1 = (key) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
let closedByServer = 0;

function connect() {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${route}`, { handshakeTimeout: 15000 });
    socket.on('open', () => { open.add(socket); count1('opened'); resolve(); });
    socket.on('unexpected-response', (_, response) => { count1(`refused ${response.statusCode}`); response.resume(); socket.terminate(); resolve(); });
    socket.on('error', (error) => { count1(`error ${error.code ?? error.message}`); resolve(); });
    socket.on('close', (code) => { if (open.delete(socket)) { closedByServer++; count1(`closed by server ${code}`); } });
  });
}

const started = Date.now();
for (let i = 0; i < count; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, count - i) }, connect));
}
console.log(`after ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(Object.fromEntries(outcomes))}; holding ${open.size}`);
const holdUntil = Date.now() + seconds * 1000;
while (Date.now() < holdUntil) {
  await new Promise((r) => setTimeout(r, 10000));
  console.log(`held ${((Date.now() - started) / 1000).toFixed(0)} s: ${open.size} open, ${closedByServer} closed by the server`);
}
for (const socket of open) socket.close(1000, 'done');
await new Promise((r) => setTimeout(r, 2000));
console.log(`done: ${JSON.stringify(Object.fromEntries(outcomes))}`);
process.exit(0);
