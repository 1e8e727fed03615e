/**
 * A terminal client for the demo, in plain `ws` to show the protocol itself: authenticate in
 * session, join a room, send, whisper to yourself, acknowledge, and print every frame.
 */
import WebSocket from 'ws';

const url = process.argv[2] ?? `ws://localhost:${process.env['PORT'] ?? 9090}/ws`;
const ws = new WebSocket(url, 'herald.v1');
let next = 0;
const request = (type: string, body: unknown) => ws.send(JSON.stringify({ kind: 'req', id: String(++next), type, body }));

ws.on('message', (data) => {
  const message = JSON.parse(String(data));
  console.log('←', JSON.stringify(message));
  if (message.kind === 'ping') ws.send('{"kind":"pong"}');
  if (message.kind === 'notification' && message.seq !== undefined) ws.send(JSON.stringify({ kind: 'ack', seq: message.seq }));
  if (message.type === 'herald.Welcome') request('herald.Authenticate', { token: 'demo-alice' });
  if (message.kind === 'resp' && message.type === 'herald.Authenticate') request('chat.Join', { room: 'lobby' });
  if (message.kind === 'resp' && message.type === 'chat.Join') request('chat.Send', { room: 'lobby', text: 'hello from the terminal' });
  if (message.kind === 'notification' && message.type === 'chat.Message') request('chat.Whisper', { to: 'alice', text: 'a note to self' });
  if (message.kind === 'notification' && message.type === 'chat.Whispered') ws.close(1000);
});
ws.on('close', (code, reason) => console.log(`closed ${code} ${String(reason)}`));
ws.on('error', (error) => {
  console.error(`cannot reach ${url}: ${error.message}  (is \`pnpm demo\` running?)`);
  process.exitCode = 1;
});
