/** Herald's long-poll transport on uWebSockets.js (`attachHttp`), the same bench server as over WebSocket. */
import { createLongPollHandler } from '@herald/long-poll';
import { attachHttp, loadUws } from '@herald/uws';
import { createBenchHerald } from '../shared.ts';
import { ready } from './control.ts';

const uws = loadUws();
const app = uws.App();
const longPoll = createLongPollHandler(createBenchHerald(), { path: '/lp' });
attachHttp(app, '/lp', longPoll.handle);
attachHttp(app, '/lp/*', longPoll.handle);
app.listen('127.0.0.1', 0, (socket) => {
  if (socket === false) throw new Error('cannot listen');
  ready(uws.us_socket_local_port(socket));
});
