/** `@herald/gateway` in front of one Herald node (BACKEND_PORT), for scenario 10. */
import { serveGateway } from '@herald/gateway';
import { ready } from './control.ts';

const quiet = { info() {}, warn() {}, error() {} };
const gateway = await serveGateway({ backends: [`ws://127.0.0.1:${process.env['BACKEND_PORT']}/ws`], port: 0, host: '127.0.0.1', logger: quiet });
ready(gateway.port);
