// A smoke client on Node's `ws` package, run by tests/interop_node.rs.
//
// Usage: node client.cjs URL TOKEN CHANNEL, with `ws` on NODE_PATH. Prints one JSON
// object per line: the status of an upgrade with a wrong token, then every message
// received on CHANNEL until a process reports `exited`, then the close code of a normal
// closing handshake.

'use strict';

const WebSocket = require('ws');

const [url, token, channel] = process.argv.slice(2);

function emit(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}

function fail(why) {
  process.stderr.write(`${why}\n`);
  process.exit(1);
}

function statusOfWrongToken() {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { Authorization: 'Bearer wrong' } });
    ws.on('unexpected-response', (request, response) => {
      resolve(response.statusCode);
      request.destroy();
    });
    ws.on('open', () => fail('the upgrade with a wrong token was accepted'));
    ws.on('error', () => {});
  });
}

async function main() {
  setTimeout(() => fail('timed out'), 15000).unref();
  emit({ refused: await statusOfWrongToken() });

  const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
  ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', data: channel })));
  ws.on('message', (data, isBinary) => {
    if (isBinary) fail('a binary frame arrived');
    const message = JSON.parse(data.toString());
    emit(message);
    if (message.type === 'process_status' && message.data.status === 'exited') ws.close(1000);
  });
  ws.on('close', (code) => {
    emit({ closed: code });
    process.exit(0);
  });
  ws.on('error', (err) => fail(err.message));
}

main();
