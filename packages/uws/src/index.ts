export { answerPlainHttp, attachHerald, serveHerald, type HeraldUwsHandle, type HeraldUwsOptions, type HeraldUwsServeOptions, type HeraldUwsServer } from './adapter.ts';
export { assertNative, isNative, loadUws, type UwsModule } from './native.ts';
export { attachFetch, type FetchBridgeOptions } from './fetch-bridge.ts';
export { attachHttp } from './http-bridge.ts';
