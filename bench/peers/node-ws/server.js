'use strict';
// The benchmark peer on Node's ws: /broadcast sends every message it receives to every /broadcast connection,
// sender included; every other path echoes. Usage: node server.js --port P
const http = require('http');
const { WebSocketServer } = require('ws');

const MAX_MESSAGE = 64 * 1024 * 1024; // the same limit the Tern and Kestrel servers are run with

function parsePort(argv) {
  const at = argv.indexOf('--port');
  const port = at >= 0 ? Number(argv[at + 1]) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error('usage: node server.js --port P');
    process.exit(1);
  }
  return port;
}

const port = parsePort(process.argv);
const httpServer = http.createServer((request, response) => {
  response.writeHead(426, { 'Content-Type': 'text/plain' });
  response.end('WebSocket only\n');
});
const webSockets = new WebSocketServer({
  server: httpServer,
  maxPayload: MAX_MESSAGE,
  perMessageDeflate: false,
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

httpServer.listen(port, '127.0.0.1', () => console.log(`node ws ${require('ws/package.json').version} on 127.0.0.1:${port}`));

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
