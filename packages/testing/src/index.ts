export { eventually } from './eventually.ts';
export {
  and,
  matching,
  not,
  or,
  presenceCount,
  presenceJoin,
  presenceLeave,
  responseTo,
  toMatcher,
  withKind,
  withProperty,
  withType,
  type Matcher,
  type MatcherLike,
} from './matchers.ts';
export { connectInProcess } from './in-process.ts';
export { formatLoadResult, runLoad, type LatencySummary, type LoadMessage, type LoadOptions, type LoadResult } from './load.ts';
export { upgradeRefusal, type Refusal } from './refusal.ts';
export { connect, Tester, type CloseInfo, type ConnectOptions, type WaitOptions, type WebSocketConstructor, type WebSocketLike } from './tester.ts';
