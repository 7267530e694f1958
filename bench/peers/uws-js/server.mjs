// The benchmark peer on uWebSockets.js: uWS's C++ core (uSockets event loop, HTTP upgrade, framing, pub/sub) behind
// a Node binding, with the handlers below in JS. /broadcast sends every message it receives to every /broadcast
// connection, sender included (uWS's pub/sub: app.publish reaches every subscriber, ws.publish would skip the
// sender); every other path echoes.
//
// Usage: node server.mjs --port P [--cert cert.pem --key key.pem] [--deflate]
//   --cert/--key  SSLApp (uWS's own TLS over OpenSSL) with these PEM files: wss
//   --deflate     permessage-deflate with uWS's shared compressor and decompressor: no context takeover either way,
//                 so no zlib state per connection; every message sent is compressed (send's `compress` argument)
//
// The package is uws-pack, which ships uWebSockets.js's prebuilt binaries (built by that project's CI) as an
// ordinary npm package, because uWebSockets.js itself is published only on GitHub.
import { readFileSync } from 'node:fs';
import { App, DISABLED, SHARED_COMPRESSOR, SHARED_DECOMPRESSOR, SSLApp, us_listen_socket_close } from 'uws-pack';

const MAX_MESSAGE = 64 * 1024 * 1024; // the same limit the other servers are run with

function valueOf(argv, name) {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
}

function usage() {
  console.error('usage: node server.mjs --port P [--cert cert.pem --key key.pem] [--deflate]');
  process.exit(1);
}

const argv = process.argv;
const port = Number(valueOf(argv, '--port'));
if (!Number.isInteger(port) || port < 1 || port > 65535) usage();
const certFile = valueOf(argv, '--cert');
const keyFile = valueOf(argv, '--key');
if (Boolean(certFile) !== Boolean(keyFile)) usage();
const deflate = argv.includes('--deflate');

const settings = {
  compression: deflate ? SHARED_COMPRESSOR | SHARED_DECOMPRESSOR : DISABLED,
  maxPayloadLength: MAX_MESSAGE,
  // uWS drops a message (send returns DROPPED, publish skips the subscriber) for a connection that already has more
  // than this queued; its default of 64 KiB would drop messages the other servers queue. The load generator keeps
  // its own window, so what is queued stays bounded.
  maxBackpressure: 4 * MAX_MESSAGE,
  closeOnBackpressureLimit: false,
  // No idle timeout and no automatic pings, as with the Node ws peer (uWS's default closes a connection idle for
  // 120 s, and pings before that).
  idleTimeout: 0,
  sendPingsAutomatically: false,
};

const BROADCAST_TOPIC = 'broadcast';
const app = (certFile ? SSLApp({ cert_file_name: certFile, key_file_name: keyFile }) : App())
  .ws('/broadcast', {
    ...settings,
    open: (ws) => ws.subscribe(BROADCAST_TOPIC),
    message: (ws, message, isBinary) => app.publish(BROADCAST_TOPIC, message, isBinary, deflate),
  })
  .ws('/*', {
    ...settings,
    message: (ws, message, isBinary) => ws.send(message, isBinary, deflate),
  })
  .any('/*', (response) => response.writeStatus('426 Upgrade Required').end('WebSocket only\n'));

const version = JSON.parse(readFileSync(new URL('./node_modules/uws-pack/package.json', import.meta.url))).version;
let listening = null;
app.listen('127.0.0.1', port, (token) => {
  if (!token) {
    console.error(`uWebSockets.js could not listen on 127.0.0.1:${port}`);
    process.exit(1);
  }
  listening = token;
  console.log(`uWebSockets.js (uws-pack ${version}) on ${certFile ? 'wss' : 'ws'}://127.0.0.1:${port}` +
    (deflate ? ' with permessage-deflate (shared compressor and decompressor)' : ''));
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (listening) us_listen_socket_close(listening);
    process.exit(0);
  });
}
