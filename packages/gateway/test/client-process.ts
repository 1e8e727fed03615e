/** A native client as a process of its own (so a test can SIGSTOP it): connects to URL as USER and prints `welcomed <sessionId>`. */
import WebSocket from 'ws';

const socket = new WebSocket(process.env['URL'] as string, 'herald.v1', { headers: { authorization: `Bearer user:${process.env['USER_ID'] ?? 'alice'}` } });
socket.on('message', (data) => {
  const message = JSON.parse(String(data)) as { type?: string; body?: { sessionId?: string } };
  if (message.type === 'herald.Welcome') console.log(`welcomed ${message.body?.sessionId}`);
});
socket.on('close', (code) => {
  console.log(`closed ${code}`);
  process.exit(0);
});
