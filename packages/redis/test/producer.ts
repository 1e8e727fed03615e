/**
 * An at-least-once producer, as a process: for n = FROM..TO it publishes `{ n }` to the orders
 * topic and sends it to user ann, each with an idempotency key of its own (`topic-<n>`,
 * `user-<n>`), and prints `sent <n>` after both. The test kills it mid-way and starts it again
 * from the first message, as a queue consumer that redelivers everything unconfirmed would.
 */
import { ORDERS_TOPIC, producerNode } from './producer-app.ts';

const node = await producerNode(process.env['REDIS_URL'] as string, process.env['PREFIX'] as string);
for (let n = Number(process.env['FROM']); n <= Number(process.env['TO']); n++) {
  await node.herald.publish(ORDERS_TOPIC, 'order.Placed', { n }, { idempotencyKey: `topic-${n}` });
  await node.herald.sendToUser('ann', 'order.Placed', { n }, { idempotencyKey: `user-${n}` });
  console.log(`sent ${n}`);
}
await node.close();
process.exit(0);
