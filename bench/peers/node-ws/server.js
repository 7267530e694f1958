'use strict';
// The benchmark peer on Node's ws: /broadcast sends every message it receives to every /broadcast connection,
// sender included; every other path echoes.
//
// Usage: node server.js --port P [--cert cert.pem --key key.pem] [--deflate] [--deflate-threshold BYTES]
//   --cert/--key   serve wss (Node's https server, OpenSSL) with these PEM files
//   --deflate      permessage-deflate with no context takeover either way (ws keeps no zlib stream per connection
//                  between messages then); messages shorter than --deflate-threshold (default 1024, as Tern's
//                  MinimumMessageSize) go out uncompressed
const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');

const MAX_MESSAGE = 64 * 1024 * 1024; // the same limit the Tern and Kestrel servers are run with

function valueOf(argv, name) {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
}

function usage() {
  console.error('usage: node server.js --port P [--cert cert.pem --key key.pem] [--deflate] [--deflate-threshold BYTES]');
  process.exit(1);
}

const argv = process.argv;
const port = Number(valueOf(argv, '--port'));
if (!Number.isInteger(port) || port < 1 || port > 65535) usage();
const certFile = valueOf(argv, '--cert');
const keyFile = valueOf(argv, '--key');
if (Boolean(certFile) !== Boolean(keyFile)) usage();
const deflate = argv.includes('--deflate');
const threshold = Number(valueOf(argv, '--deflate-threshold') ?? 1024);
if (!Number.isInteger(threshold) || threshold < 0) usage();

function refuse(request, response) {
  response.writeHead(426, { 'Content-Type': 'text/plain' });
  response.end('WebSocket only\n');
}
const httpServer = certFile
  ? https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, refuse)
  : http.createServer(refuse);
const webSockets = new WebSocketServer({
  server: httpServer,
  maxPayload: MAX_MESSAGE,
  perMessageDeflate: deflate
    ? {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        threshold,
        // zlib's defaults otherwise (level 6, 15-bit windows); ws runs zlib on libuv's thread pool, at most
        // concurrencyLimit (10) operations at a time.
      }
    : false,
  clientTracking: false,
});

const subscribers = new Set();

webSockets.on('connection', (socket, request) => {
  socket.on('error', () => {}); // a peer that vanishes is closed by ws; nothing to report in a benchmark
  const path = request.url.split('?', 1)[0];
  if (path === '/broadcast') {
    subscribers.add(socket);
    socket.on('close', () => subscribers.delete(socket));
    socket.on('message', (data, isBinary) => {
      for (const subscriber of subscribers) subscriber.send(data, { binary: isBinary });
    });
  } else {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  }
});

httpServer.listen(port, '127.0.0.1', () =>
  console.log(`node ws ${require('ws/package.json').version} on ${certFile ? 'wss' : 'ws'}://127.0.0.1:${port}` +
    (deflate ? ` with permessage-deflate (threshold ${threshold} B)` : '')));

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
