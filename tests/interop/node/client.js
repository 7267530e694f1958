'use strict';
// A Node `ws` client that runs one interop case against a Tern server and reports on stdout.
//
//   node client.js <case> <ws-url>
//
// Prints one JSON object per line: {"event":"open"}, {"event":"close","code":..,"reason":".."},
// and last {"event":"result","ok":true|false,"case":..,"detail":..}. Exit code 0 means the case passed.
// The xunit test (tests/Tern.Tests/Interop/NodeWsInteropTests.cs) spawns this script, bounds it in time and
// checks the server's side of each case (for example the close code Tern received).

const crypto = require('node:crypto');
const fs = require('node:fs');
const WebSocket = require('ws');

const [caseName, url] = process.argv.slice(2);
const CASE_TIMEOUT_MS = Number(process.env.TERN_CASE_TIMEOUT_MS || 30000);
// wss: TERN_CA_FILE names the PEM certificate to trust (the test's self-signed one); verification stays on.
const TLS_OPTIONS = process.env.TERN_CA_FILE ? { ca: fs.readFileSync(process.env.TERN_CA_FILE) } : {};

function report(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function finish(ok, detail) {
  report({ event: 'result', case: caseName, ok, detail: detail ?? null });
  // Exit from the event loop's next turn so stdout is flushed first.
  setImmediate(() => process.exit(ok ? 0 : 1));
}

function fail(message) {
  finish(false, message);
}

process.on('uncaughtException', (error) => fail(`uncaught: ${error && error.stack || error}`));
setTimeout(() => fail(`timed out after ${CASE_TIMEOUT_MS} ms`), CASE_TIMEOUT_MS).unref();

/** Opens a connection and resolves once it is open; every close and error is reported. */
function connect(options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols || [], { maxPayload: 64 * 1024 * 1024, ...TLS_OPTIONS, ...options.client });
    ws.binaryType = 'nodebuffer';
    ws.closed = new Promise((closed) => {
      ws.on('close', (code, reason) => {
        const event = { event: 'close', code, reason: reason.toString('utf8') };
        report(event);
        closed(event);
      });
    });
    ws.on('error', (error) => {
      report({ event: 'error', message: String(error && error.message) });
      reject(error);
    });
    ws.on('open', () => {
      report({ event: 'open', protocol: ws.protocol, extensions: ws.extensions });
      resolve(ws);
    });
  });
}

/** Resolves with the next message as { data: Buffer, isBinary }. */
function nextMessage(ws) {
  return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data, isBinary })));
}

function send(ws, data, options) {
  return new Promise((resolve, reject) => ws.send(data, options, (error) => (error ? reject(error) : resolve())));
}

/** ASCII text of exactly `length` bytes, not a repeated single byte so a reordering would show. */
function asciiText(length) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = alphabet.charCodeAt(i % alphabet.length);
  return bytes.toString('latin1');
}

function describe(buffer) {
  return `${buffer.length} bytes, sha256 ${crypto.createHash('sha256').update(buffer).digest('hex').slice(0, 16)}`;
}

async function expectEcho(ws, sent, isBinary) {
  const { data, isBinary: gotBinary } = await nextMessage(ws);
  const expected = Buffer.isBuffer(sent) ? sent : Buffer.from(sent, 'utf8');
  if (gotBinary !== isBinary) throw new Error(`sent ${isBinary ? 'binary' : 'text'}, got ${gotBinary ? 'binary' : 'text'} back`);
  if (!data.equals(expected)) throw new Error(`echo differs: sent ${describe(expected)}, got ${describe(data)}`);
}

async function closeNormally(ws, code = 1000, reason = 'done') {
  ws.close(code, reason);
  const closed = await ws.closed;
  if (closed.code !== code) throw new Error(`closed with ${closed.code}, expected the echo of ${code}`);
  return closed;
}

const cases = {
  // text-N and binary-N: one message of N bytes, echoed unchanged.
  async sized(kind, length) {
    const ws = await connect();
    const payload = kind === 'binary' ? crypto.randomBytes(length) : asciiText(length);
    await send(ws, payload, { binary: kind === 'binary' });
    await expectEcho(ws, payload, kind === 'binary');
    await closeNormally(ws);
    return `${kind} ${length} bytes echoed`;
  },

  // Every UTF-8 width (1 to 4 bytes) in one text message.
  async 'text-utf8'() {
    const ws = await connect();
    const text = 'ascii é € 𝄞 κόσμε 日本語 '.repeat(100);
    await send(ws, text, { binary: false });
    await expectEcho(ws, text, false);
    await closeNormally(ws);
    return `${Buffer.byteLength(text)} bytes of mixed-width UTF-8 echoed`;
  },

  // A text message in three frames, a code point split across two of them.
  async 'fragmented-text'() {
    const ws = await connect();
    const whole = Buffer.from('Hello, fragmented 𝄞 world', 'utf8');
    const splitInsideCodePoint = whole.indexOf(Buffer.from('𝄞', 'utf8')) + 2;
    const parts = [whole.subarray(0, 7), whole.subarray(7, splitInsideCodePoint), whole.subarray(splitInsideCodePoint)];
    await send(ws, parts[0], { binary: false, fin: false });
    await send(ws, parts[1], { binary: false, fin: false });
    await send(ws, parts[2], { binary: false, fin: true });
    await expectEcho(ws, whole, false);
    await closeNormally(ws);
    return 'three text fragments (a 4-byte code point split) reassembled';
  },

  // A binary message in 64 frames of 1 KiB, with a ping between two of them: the pong must come back
  // while the message is still incomplete, and the message must come back whole.
  async 'fragmented-binary-with-ping'() {
    const ws = await connect();
    const whole = crypto.randomBytes(64 * 1024);
    const pong = new Promise((resolve) => ws.once('pong', resolve));
    for (let i = 0; i < 64; i++) {
      await send(ws, whole.subarray(i * 1024, (i + 1) * 1024), { binary: true, fin: i === 63 });
      if (i === 31) ws.ping(Buffer.from('mid-message'));
    }
    const pongPayload = await pong;
    if (pongPayload.toString() !== 'mid-message') throw new Error(`pong payload ${pongPayload.toString()}`);
    await expectEcho(ws, whole, true);
    await closeNormally(ws);
    return '64 binary fragments with a ping in the middle; pong and message correct';
  },

  // Pings with 0, 1 and 125 bytes of payload; each pong echoes the payload.
  async ping() {
    const ws = await connect();
    for (const length of [0, 1, 125]) {
      const payload = crypto.randomBytes(length);
      const pong = new Promise((resolve) => ws.once('pong', resolve));
      ws.ping(payload);
      const got = await pong;
      if (!got.equals(payload)) throw new Error(`pong for a ${length}-byte ping carried ${describe(got)}`);
    }
    await closeNormally(ws);
    return 'pings of 0, 1 and 125 bytes answered with the same payload';
  },

  // The client closes with 4000 and a reason; Tern must echo the code (the test checks what Tern saw).
  async 'client-close'() {
    const ws = await connect();
    await send(ws, 'before closing', { binary: false });
    await expectEcho(ws, 'before closing', false);
    const closed = await closeNormally(ws, 4000, 'node says bye ✓');
    return `client closed with 4000; server echoed ${closed.code}`;
  },

  // The server closes (the test's handler sends 4001 "server says bye" when it gets "close me").
  async 'server-close'() {
    const ws = await connect();
    await send(ws, 'close me', { binary: false });
    const closed = await ws.closed;
    if (closed.code !== 4001 || closed.reason !== 'server says bye') {
      throw new Error(`expected 4001 "server says bye", got ${closed.code} "${closed.reason}"`);
    }
    return 'server close 4001 with its reason received; ws answered it';
  },

  // Stays idle while the server's keepalive pings it (ws answers pings itself), then proves the connection lives.
  async keepalive() {
    const ws = await connect();
    let pings = 0;
    ws.on('ping', () => pings++);
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.TERN_IDLE_MS || 1500)));
    if (pings === 0) throw new Error('no keepalive ping arrived while idle');
    await send(ws, 'still here', { binary: false });
    await expectEcho(ws, 'still here', false);
    await closeNormally(ws);
    return `idle with ${pings} keepalive pings answered; still open`;
  },

  // 1000 messages of varied sizes sent without waiting; all echoed, in order.
  async pipelined() {
    const ws = await connect();
    const sent = [];
    for (let i = 0; i < 1000; i++) sent.push(crypto.randomBytes((i * 7919) % 3000));
    const received = [];
    const done = new Promise((resolve) => ws.on('message', (data) => {
      received.push(data);
      if (received.length === sent.length) resolve();
    }));
    for (const message of sent) ws.send(message, { binary: true });
    await done;
    for (let i = 0; i < sent.length; i++) {
      if (!received[i].equals(sent[i])) throw new Error(`message ${i} differs: sent ${describe(sent[i])}, got ${describe(received[i])}`);
    }
    await closeNormally(ws);
    return '1000 pipelined messages echoed in order';
  },

  // Connects and waits for the server to close (the test stops the server): expects TERN_EXPECT_CLOSE.
  async 'await-server-close'() {
    const ws = await connect();
    const expected = Number(process.env.TERN_EXPECT_CLOSE || 1001);
    const closed = await ws.closed;
    if (closed.code !== expected) throw new Error(`expected close ${expected}, got ${closed.code} "${closed.reason}"`);
    return `server closed with ${closed.code} "${closed.reason}"`;
  },

  // The handshake must be refused with TERN_EXPECT_STATUS; ws reports the response it got instead of a 101.
  async refused() {
    const expected = Number(process.env.TERN_EXPECT_STATUS);
    const status = await new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (request, response) => {
        let body = '';
        response.on('data', (chunk) => { body += chunk; });
        response.on('end', () => {
          report({ event: 'refused', status: response.statusCode, body });
          resolve(response.statusCode);
        });
      });
      ws.on('open', () => reject(new Error('the handshake was accepted')));
      ws.on('error', (error) => report({ event: 'error', message: String(error && error.message) }));
    });
    if (status !== expected) throw new Error(`expected status ${expected}, got ${status}`);
    return `handshake refused with ${status}`;
  },

  // Offers two subprotocols; the test's server speaks the second.
  async subprotocol() {
    const ws = await connect({ protocols: ['chat.v2', 'chat.v1'] });
    if (ws.protocol !== 'chat.v1') throw new Error(`negotiated "${ws.protocol}", expected "chat.v1"`);
    if (ws.extensions !== '') throw new Error(`unexpected extensions "${ws.extensions}" (permessage-deflate was offered, not supported)`);
    await closeNormally(ws);
    return 'subprotocol chat.v1 chosen; permessage-deflate offer declined';
  },

  // permessage-deflate (RFC 7692): ws offers it (context takeover as TERN_DEFLATE_TAKEOVER says), Tern accepts;
  // JSON, binary, empty and fragmented messages, compressed by ws, are echoed compressed by Tern and inflated by ws.
  async deflate() {
    const takeover = process.env.TERN_DEFLATE_TAKEOVER === 'true';
    const ws = await connect({
      client: {
        perMessageDeflate: {
          serverNoContextTakeover: !takeover,
          clientNoContextTakeover: !takeover,
          clientMaxWindowBits: true,
          threshold: 0,
        },
      },
    });
    if (!/^permessage-deflate/.test(ws.extensions)) throw new Error(`extensions "${ws.extensions}"`);
    const json = JSON.stringify(Array.from({ length: 400 }, (_, id) => ({ id, user: 'alice', text: 'hello there ✓' })));
    for (let round = 0; round < 3; round++) {
      for (const [data, binary] of [[json, false], ['', false], ['tiny', false], [crypto.randomBytes(100000), true], [json + round, false]]) {
        await send(ws, data, { binary, compress: true });
        await expectEcho(ws, data, binary);
      }
    }
    const whole = Buffer.from(json, 'utf8');
    await send(ws, whole.subarray(0, 5000), { binary: false, fin: false, compress: true });
    await send(ws, whole.subarray(5000), { binary: false, fin: true, compress: true });
    await expectEcho(ws, whole, false);
    await closeNormally(ws);
    // ws.extensions holds only the names; the parameters Tern answered are on the extension object.
    const params = ws._extensions['permessage-deflate'].params;
    return `permessage-deflate negotiated with ${JSON.stringify(params)}; 16 messages echoed`;
  },

  // A 1 MiB binary message sent in 16 fragments (fin: false until the last), with deflate when TERN_STREAM_DEFLATE
  // is set: the test's server reads it as a stream and echoes it as it arrives, in fragments, which ws reassembles.
  async streamed() {
    const deflate = process.env.TERN_STREAM_DEFLATE === 'true';
    const ws = await connect({ client: { perMessageDeflate: deflate ? { threshold: 0 } : false } });
    if (deflate !== /^permessage-deflate/.test(ws.extensions)) throw new Error(`extensions "${ws.extensions}"`);
    const whole = Buffer.concat([crypto.randomBytes(512 * 1024), Buffer.alloc(512 * 1024, 'json-ish text ')]);
    const part = whole.length / 16;
    for (let i = 0; i < 16; i++) {
      await send(ws, whole.subarray(i * part, (i + 1) * part), { binary: true, fin: i === 15, compress: deflate });
    }
    await expectEcho(ws, whole, true);
    await closeNormally(ws);
    return `1 MiB in 16 fragments${deflate ? ' (compressed)' : ''} streamed through and echoed in fragments`;
  },
};

async function main() {
  if (!caseName || !url) {
    fail('usage: node client.js <case> <ws-url>');
    return;
  }

  const sized = /^(text|binary)-(\d+)$/.exec(caseName);
  const run = sized ? () => cases.sized(sized[1], Number(sized[2])) : cases[caseName];
  if (!run) {
    fail(`unknown case ${caseName}`);
    return;
  }

  finish(true, await run());
}

main().catch((error) => fail(String(error && error.stack || error)));
