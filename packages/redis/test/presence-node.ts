/**
 * A node that dies: its USERS each connect (in process) and join room/kill, then it prints
 * `joined` and waits to be SIGKILLed.
 */
import { connectMemory } from '@herald/core/testing';
import { presenceNode } from './presence-app.ts';

const node = await presenceNode(process.env['REDIS_URL'] as string, process.env['PREFIX'] as string);
const users = (process.env['USERS'] as string).split(',');
const sockets = await Promise.all(users.map((user) => connectMemory(node.herald, { authorization: `Bearer ${user}` })));
sockets.forEach((socket, i) => socket.deliver({ kind: 'req', id: `j${i}`, type: 'herald.Subscribe', body: { topic: 'room/kill' } }));
const answered = () => sockets.every((socket, i) => socket.received.some((e) => e.kind === 'resp' && e.reqId === `j${i}`));
while (!answered()) await new Promise((resolve) => setTimeout(resolve, 20));
console.log('joined');
setInterval(() => {}, 1000);
