export { createClient, HeraldClient, type ClientOptions, type ClientState, type NotificationMeta, type RecoveryFailure, type StreamGap, type Subscription, type TopicHandler } from './client.ts';
export { TopicPresence, type PresenceEvent, type PresenceListener } from './presence.ts';
export { ClientErrorReason, HeraldRequestError, type ErrorDetails } from './errors.ts';
export type { ConnectFailure } from './connect-failure.ts';
export {
  webSocketTransport,
  type Transport,
  type TransportConnection,
  type TransportEvents,
  type WebSocketConstructor,
  type WebSocketLike,
  type WebSocketTransportOptions,
} from './transport.ts';
export { autoTransport, defaultLongPollUrl, type AutoTransportOptions } from './auto-transport.ts';
export { longPollTransport, type LongPollTransportOptions } from './long-poll-transport.ts';
export { LongPollWebSocket } from './long-poll-web-socket.ts';
