export * from './constants.ts';
export type * from './envelope.ts';
export { envelopeJsonSchema, systemBodyJsonSchemas, type JsonSchema } from './envelope-schema.ts';
export {
  ID_PATTERN,
  TOPIC_PATTERN,
  TRACEPARENT_PATTERN,
  TYPE_PATTERN,
  decodeBinaryFrame,
  decodeClientFrame,
  type CodecLimits,
  type DecodeFailure,
  type DecodeResult,
  type DecodeSuccess,
} from './codec.ts';
export {
  contractJsonSchemas,
  defineContract,
  validate,
  type Contract,
  type ContractDefinition,
  type ContractJsonSchemas,
  type NotificationBody,
  type NotificationDefinition,
  type NotificationType,
  type RequestBody,
  type RequestDefinition,
  type RequestInput,
  type RequestType,
  type ResponseBody,
  type ResponseInput,
  type Schema,
  type Validation,
} from './contract.ts';
export { HeraldError } from './errors.ts';
export {
  INSPECTION_HISTORY,
  Inspection,
  type InspectedClose,
  type InspectedError,
  type InspectedRefusal,
  type InspectedRequests,
  type InspectedSession,
  type InspectedTopic,
  type InspectionRelay,
  type InspectionSnapshot,
  type TappedFrame,
} from './inspection.ts';
export { HEALTH_PATHS, healthAnswer, type DependencyHealth, type HealthAnswer, type HealthProbe, type HeraldHealth } from './health.ts';
export type { Broker, DirectListener, TopicHistory, TopicListener, TopicMessage, TopicRetention } from './broker.ts';
export { MemoryBroker, type HistoryUsage, type MemoryBrokerOptions } from './memory-broker.ts';
export { IDEMPOTENCY_WINDOW_MS, IdempotencyWindow, idempotencyWindow, type PublishOptions } from './idempotency.ts';
export type {
  ClaimedSession,
  RequestClaim,
  SessionStore,
  SessionStoreLimits,
  SessionStoreListener,
  StoredNotification,
} from './session-store.ts';
export { systemClock, type Clock } from './clock.ts';
export { randomId } from './random-id.ts';
export { utf8Length } from './codec.ts';
export type { HeraldSocket } from './socket.ts';
export { clientAddress, proxyMatcher, type ForwardedHeader, type RequestOrigin } from './client-address.ts';
export { consoleLogger, type LogFields, type Logger } from './logger.ts';
export type { HttpExchange } from './http-exchange.ts';
export { readRequestBody } from './read-body.ts';
export type {
  CounterInstrument,
  HistogramDefinition,
  HistogramInstrument,
  Meter,
  MetricDefinition,
  MetricLabels,
  RequestSpan,
  RequestTraceInfo,
  RequestTracer,
} from './meter.ts';
export type { NativePublish } from './topics.ts';
export { MemoryPresence, type PresenceChange, type PresenceMember, type PresenceMode, type PresencePage, type PresenceStore, type PresenceStoreListener } from './presence.ts';
export type { PresenceDiffBody } from './presence-hub.ts';
export type {
  PatternOfTopic,
  Topic,
  TopicDefinition,
  TopicNotificationType,
  TopicOfPattern,
  TopicParams,
  TopicPattern,
  TopicPresenceState,
} from './topic-patterns.ts';
export type { UpgradeRateLimit } from './upgrade-limiter.ts';
export { Connection, type ProcessingBudget, type SessionState } from './session.ts';
export {
  handshakeRefusal,
  offeredProtocols,
  type ClientClass,
  type Principal,
  type UpgradeAccepted,
  type UpgradeDecision,
  type UpgradePolicy,
  type UpgradeRejected,
  type UpgradeRequest,
} from './upgrade.ts';
export { DEFAULT_LIMITS, Herald, createHerald, type AuthenticateInfo, type HeraldOptions, type HeraldStats, type RecoveryFailureInfo, type TopicRule, type TopicRules } from './server.ts';
export { RequestContext, type Handler, type Handlers, type Middleware, type SessionHandle } from './request-context.ts';
export { FrameEncoder, nativeTopic, type WireCodec } from './wire-codec.ts';
export { DELTA_NAME_PATTERN, base64ToBytes, bytesToBase64, type DeltaCodec } from './delta-codec.ts';
export { deltaTopic } from './topics.ts';
