/**
 * A self-contained HTML page documenting a Herald endpoint for people: no script, no external
 * asset, one inline stylesheet. Every piece of text from the contract or the options goes
 * through the escaping `html` tag.
 */
import { ID_PATTERN, Kind, PROTOCOL_NAME, SystemType, TYPE_PATTERN, type ContractDefinition } from '@herald/core';
import { catalog, errorResponseExample, notificationExample, requestExample, responseExample, type NotificationEntry, type RequestEntry } from './catalog.ts';
import { anchor, html, type SafeHtml } from './html.ts';
import { endpoints, type DocumentOptions } from './options.ts';
import { closeCodes, errorCodes } from './protocol-reference.ts';
import { schemaRows } from './schema-view.ts';

/** Options of `docsPage`. */
export interface DocsPageOptions extends DocumentOptions {
  /** Where the AsyncAPI document is served, to link to it (the docs handler sets this). */
  readonly asyncApiHref?: string;
}

/**
 * The Content-Security-Policy of the docs page: the inline stylesheet and nothing else, since
 * the page runs no script and loads nothing. The page carries it in a meta tag; send it as a
 * header too when serving the page yourself.
 *
 * @example
 * new Response(docsPage(chat, options), { headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': DOCS_CONTENT_SECURITY_POLICY } });
 */
export const DOCS_CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --bg: #fff; --panel: #f5f7fa; --line: #dde2ea; --accent: #0b63c5; --req: #0a7d44; --warn: #a04a00; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e8ef; --muted: #9aa3b2; --bg: #14171c; --panel: #1d2129; --line: #2e3440; --accent: #6cb0ff; --req: #4fd08a; --warn: #f0a35a; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); }
.layout { display: grid; grid-template-columns: 17rem 1fr; min-height: 100vh; }
nav { position: sticky; top: 0; align-self: start; max-height: 100vh; overflow: auto; padding: 1.5rem 1rem; border-right: 1px solid var(--line); font-size: 14px; }
nav ul { list-style: none; margin: 0 0 0.5rem; padding-left: 0.8rem; }
nav > ul { padding-left: 0; }
nav a { color: var(--fg); text-decoration: none; display: block; padding: 0.1rem 0; overflow-wrap: anywhere; }
nav a:hover { color: var(--accent); }
main { padding: 2rem 3rem 4rem; max-width: 72rem; min-width: 0; }
h1 { margin: 0 0 0.3rem; font-size: 2rem; }
h2 { margin-top: 3rem; padding-bottom: 0.3rem; border-bottom: 1px solid var(--line); }
h3 { margin-top: 2.2rem; font-size: 1.15rem; }
h3 code { font-size: 1.05rem; }
h4 { margin: 1.2rem 0 0.4rem; font-size: 0.95rem; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
a { color: var(--accent); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
code { background: var(--panel); padding: 0.05rem 0.3rem; border-radius: 4px; overflow-wrap: anywhere; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 0.8rem 1rem; overflow: auto; }
pre code { background: none; padding: 0; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 0.35rem 0.6rem; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.field { white-space: nowrap; }
td.field code { background: none; padding: 0; font-weight: 600; }
.required { color: var(--req); font-weight: 600; white-space: nowrap; }
.optional { color: var(--muted); white-space: nowrap; }
.constraints { margin: 0; padding-left: 1rem; }
.meta { color: var(--muted); }
.tag { display: inline-block; font-size: 12px; padding: 0 0.45rem; border-radius: 999px; border: 1px solid var(--line); color: var(--muted); margin-left: 0.4rem; vertical-align: middle; font-weight: normal; }
.retry-fatal { color: var(--warn); font-weight: 600; }
.message { border-left: 3px solid var(--line); padding-left: 1rem; }
.examples { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr)); gap: 0 1rem; }
@media (max-width: 800px) { .layout { grid-template-columns: 1fr; } nav { position: static; max-height: none; border-right: 0; border-bottom: 1px solid var(--line); } main { padding: 1.2rem; } }
`;

function paragraphs(text: string | undefined): SafeHtml[] {
  if (text === undefined) return [];
  return text
    .split(/\n\s*\n/)
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => html`<p>${part}</p>`);
}

const INLINE_WIDTH = 64;

/** JSON on one line, spaced for reading: `{ "a": [1, 2] }`. */
function inlineJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inlineJson).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([key, item]) => `${JSON.stringify(key)}: ${inlineJson(item)}`).join(', ')} }`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** JSON indented by two spaces, with short arrays and objects kept on one line. */
function prettyJson(value: unknown, indent = ''): string {
  const inline = inlineJson(value);
  if (typeof value !== 'object' || value === null || inline.length + indent.length <= INLINE_WIDTH) return inline;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((item: unknown) => inner + prettyJson(item, inner)).join(',\n')}\n${indent}]`;
  const entries = Object.entries(value).filter(([, item]) => item !== undefined);
  return `{\n${entries.map(([key, item]) => `${inner}${JSON.stringify(key)}: ${prettyJson(item, inner)}`).join(',\n')}\n${indent}}`;
}

function example(title: string, value: unknown): SafeHtml {
  return html`<div><h4>${title}</h4><pre><code>${prettyJson(value)}</code></pre></div>`;
}

function schemaTable(schema: Record<string, unknown>, required: boolean): SafeHtml {
  const rows = schemaRows(schema, required);
  const top = typeof schema['description'] === 'string' ? html`<p>${schema['description']}</p>` : '';
  if (rows.length === 0) return html`${top}<p class="meta">An empty object.</p>`;
  return html`${top}<table>
<thead><tr><th>Field</th><th>Type</th><th>Required</th><th>Constraints</th><th>Description</th></tr></thead>
<tbody>${rows.map(
    (row) => html`<tr>
<td class="field" style="padding-left: ${0.6 + row.depth * 1.2}rem"><code>${row.path === '' ? '(body)' : row.path}</code></td>
<td><code>${row.type}</code></td>
<td>${row.required ? html`<span class="required">required</span>` : html`<span class="optional">optional</span>`}</td>
<td>${row.constraints.length === 0 ? '' : html`<ul class="constraints">${row.constraints.map((constraint) => html`<li>${constraint.text}${constraint.code === undefined ? '' : html` <code>${constraint.code}</code>`}</li>`)}</ul>`}</td>
<td>${row.description ?? ''}</td>
</tr>`,
  )}</tbody>
</table>`;
}

function requestSection(entry: RequestEntry): SafeHtml {
  return html`<section class="message" id="${anchor('request', entry.type)}">
<h3><code>${entry.type}</code>${entry.system ? html`<span class="tag">system</span>` : ''}</h3>
${entry.summary === undefined ? '' : html`<p><strong>${entry.summary}</strong></p>`}
${paragraphs(entry.description)}
<h4>Request body${entry.requestBodyRequired ? '' : ' (optional)'}</h4>
${schemaTable(entry.request, entry.requestBodyRequired)}
<h4>Response body (code 200)</h4>
${schemaTable(entry.response, entry.responseBodyRequired)}
<p class="meta">On failure the response has a 4xx or 5xx <code>code</code> and an <a href="#error-codes">error body</a>.</p>
<div class="examples">${example('Example request', requestExample(entry))}${example('Example response', responseExample(entry))}</div>
</section>`;
}

function notificationSection(entry: NotificationEntry): SafeHtml {
  const delivery = entry.system
    ? 'A system notification: carries neither topic nor seq, is not acknowledged and not replayed.'
    : 'Arrives as a topic notification (topic + offset) or as a private notification (seq, acknowledge with ack).';
  return html`<section class="message" id="${anchor('notification', entry.type)}">
<h3><code>${entry.type}</code>${entry.system ? html`<span class="tag">system</span>` : ''}</h3>
${entry.summary === undefined ? '' : html`<p><strong>${entry.summary}</strong></p>`}
${paragraphs(entry.description)}
<p class="meta">${delivery}</p>
<h4>Body</h4>
${schemaTable(entry.body, entry.bodyRequired)}
${example('Example', notificationExample(entry))}
</section>`;
}

function navList(title: string, id: string, prefix: string, types: readonly string[]): SafeHtml {
  return html`<li><a href="#${id}">${title}</a><ul>${types.map((type) => html`<li><a href="#${anchor(prefix, type)}">${type}</a></li>`)}</ul></li>`;
}

function connecting(options: DocumentOptions): SafeHtml {
  const { webSocket, longPoll } = endpoints(options);
  const base = longPoll?.pathname ?? '';
  const longPollPart =
    longPoll === undefined
      ? ''
      : html`<h3 id="long-poll">Long-poll fallback</h3>
<p>Where WebSockets cannot pass, the same session runs over plain HTTP at <code>${longPoll.href}</code>: the same envelopes, the same delivery, resume, error and close rules. The connection id travels in the <code>Herald-Session</code> header, never in a URL.</p>
<table><thead><tr><th>Request</th><th>Headers</th><th>Body</th><th>Answer</th></tr></thead><tbody>
<tr><td><code>POST ${base}</code></td><td><code>Herald-Protocol: ${PROTOCOL_NAME}</code>, optional <code>Authorization: Bearer …</code></td><td>none</td><td><code>200 {sid, from, messages}</code> with the Welcome, or an upgrade refusal</td></tr>
<tr><td><code>POST ${base}/send</code></td><td><code>Herald-Session</code></td><td>a JSON array of 1 to 64 strings, each one frame</td><td><code>204</code>; <code>400 invalid_batch</code>, <code>413 too_large</code>, <code>404 unknown_session</code>, <code>403 forbidden</code></td></tr>
<tr><td><code>GET ${base}/poll?ack=&lt;cursor&gt;</code></td><td><code>Herald-Session</code></td><td>none</td><td><code>200 {from, messages, closed?}</code>, held up to 25 s</td></tr>
<tr><td><code>DELETE ${base}</code></td><td><code>Herald-Session</code></td><td>none</td><td><code>204</code>; the session ends</td></tr>
</tbody></table>
<p>On <code>404 unknown_session</code>, open a new connection and send <code>herald.Resume</code>: the session may well still exist.</p>`;
  return html`<section id="connecting">
<h2>Connecting</h2>
<p>Open a WebSocket to <code>${webSocket.href}</code> offering the subprotocol <code>${PROTOCOL_NAME}</code> in <code>Sec-WebSocket-Protocol</code>. Every frame is a UTF-8 JSON text frame with one envelope. The server's first message is always <a href="#${anchor('notification', SystemType.Welcome)}"><code>herald.Welcome</code></a>, with the session id and the limits to honour.</p>
<h3 id="authentication">Authentication</h3>
<ul>
<li><strong>Native clients</strong> (apps, services) may send <code>Authorization: Bearer &lt;token&gt;</code> on the upgrade; the Welcome then says <code>authenticated: true</code>. A rejected token is refused with HTTP 401.</li>
<li><strong>Browsers</strong> cannot set headers on an upgrade: connect without credentials, then send <a href="#${anchor('request', SystemType.Authenticate)}"><code>herald.Authenticate</code></a> <code>{token}</code> within <code>authDeadlineMs</code>, preferably with a short-lived single-use ticket from your HTTP API. Until then every other request is answered <code>401 not_authenticated</code>.</li>
<li>Refresh by sending <code>herald.Authenticate</code> again before <code>expiresAt</code>. Never put a token in the URL.</li>
</ul>
<h3 id="reconnecting">Reconnecting</h3>
<p>After a drop, reconnect with backoff, authenticate, then send <a href="#${anchor('request', SystemType.Resume)}"><code>herald.Resume</code></a> before anything else: missed notifications are replayed and <code>recovered</code> says whether anything was lost. Retry unanswered requests with the same <code>id</code>; the server answers a retry from its memory without running it twice.</p>
<h3 id="keep-alive">Keep-alive</h3>
<p>Answer every <code>{"kind":"ping"}</code> with <code>{"kind":"pong"}</code> straight away. Consider the server gone when nothing arrived for <code>pingIntervalMs + pingTimeoutMs</code>.</p>
${longPollPart}
</section>`;
}

function overview(): SafeHtml {
  const kinds: ReadonlyArray<readonly [string, string, string]> = [
    [Kind.Request, 'client → server', 'id, type, body: a request; answered by exactly one resp'],
    [Kind.Response, 'server → client', 'reqId, type, code, body: the answer, correlated by reqId; 2xx success, 4xx/5xx an error body'],
    [Kind.Notification, 'server → client', 'type, body, and topic + offset (topic) or seq (private); herald.* types are system notifications'],
    [Kind.Ack, 'client → server', 'seq: every private notification up to seq is held'],
    [Kind.Ping, 'both', 'a keep-alive probe'],
    [Kind.Pong, 'both', 'the answer to a ping'],
  ];
  return html`<section id="overview">
<h2>Overview</h2>
<p>This API speaks Herald protocol v1 (<code>${PROTOCOL_NAME}</code>) over one WebSocket: typed request/response and subscribe/notify on one small JSON envelope, with delivery confirmation, resume after reconnect and keep-alive.</p>
<table><thead><tr><th><code>kind</code></th><th>Direction</th><th>Fields and meaning</th></tr></thead><tbody>
${kinds.map(([kind, direction, meaning]) => html`<tr><td><code>${kind}</code></td><td>${direction}</td><td>${meaning}</td></tr>`)}
</tbody></table>
<p>Fields: <code>id</code>/<code>reqId</code> match <code>${ID_PATTERN.source}</code>; <code>type</code> matches <code>${TYPE_PATTERN.source}</code>; <code>code</code> is an HTTP-style status. Unknown fields are ignored.</p>
</section>`;
}

function keepAliveSection(): SafeHtml {
  return html`<section class="message" id="${anchor('notification', 'ping')}">
<h3><code>ping</code> / <code>pong</code> / <code>ack</code><span class="tag">system</span></h3>
<p><code>{"kind":"ping"}</code> goes either way and is answered with <code>{"kind":"pong"}</code>. The server pings after <code>pingIntervalMs</code> of silence and closes with 4408 when nothing arrives within <code>pingTimeoutMs</code>.</p>
<p><code>{"kind":"ack","seq":58}</code> tells the server the client holds every private notification up to <code>seq</code>; send it within a second, and at least every <code>replayWindow / 2</code> private notifications. Topic notifications are never acknowledged.</p>
</section>`;
}

function errorResponseSection(): SafeHtml {
  return html`<section class="message" id="${anchor('notification', 'error-response')}">
<h3>Error response<span class="tag">system</span></h3>
<p>A request that fails is answered with a <code>resp</code> whose <code>code</code> is 4xx or 5xx and whose body is <code>{error, message, issues?, retryAfterMs?}</code>. Branch on <code>error</code> and <code>code</code>; <code>message</code> is for people. <code>issues</code> point into the envelope, so body fields start with <code>"body"</code>.</p>
${example('Example', errorResponseExample)}
</section>`;
}

function closeCodeSection(): SafeHtml {
  return html`<section id="close-codes">
<h2>Close codes</h2>
<p>Before every close it initiates with a 4xxx code the server sends <code>herald.Goodbye {code, reason, retryAfterMs?}</code>. Act on the code: <strong>resume</strong> means reconnect with backoff and resume; <strong>reauthenticate</strong> means get fresh credentials first; <strong>fatal</strong> means do not reconnect automatically. A close without a code, or with one not listed, is treated as resume.</p>
<table><thead><tr><th>Code</th><th>Name</th><th>When</th><th>Retry</th><th>What the client does</th></tr></thead><tbody>
${closeCodes.map(
  (row) =>
    html`<tr><td><code>${row.code}</code></td><td>${row.name}</td><td>${row.when}</td><td><span class="${row.retry === 'fatal' ? 'retry-fatal' : ''}">${row.retry}</span></td><td>${row.action}</td></tr>`,
)}
</tbody></table>
</section>`;
}

function errorCodeSection(): SafeHtml {
  return html`<section id="error-codes">
<h2>Error codes</h2>
<p>The <code>error</code> of an error body, with its status. Treat an unknown <code>error</code> by its status class.</p>
<table><thead><tr><th>Status</th><th><code>error</code></th><th>When</th><th>Answered with</th><th>Retry</th></tr></thead><tbody>
${errorCodes.map(
  (row) => html`<tr><td><code>${row.status}</code></td><td><code>${row.error}</code></td><td>${row.when}</td><td>${row.answeredWith}</td><td>${row.retry}</td></tr>`,
)}
</tbody></table>
</section>`;
}

/**
 * A self-contained HTML page documenting a Herald endpoint: overview, how to connect and
 * authenticate, every request with its request and response bodies as property tables and
 * example envelopes, every notification, the system messages, and the close-code and error-code
 * tables. It loads nothing and runs no script; all contract text is escaped.
 *
 * @example
 * import { docsPage } from '@herald/asyncapi';
 * await writeFile('docs.html', docsPage(chat, { title: 'Chat', version: '1.2.0', url: 'wss://chat.example.com/ws' }));
 */
export function docsPage(contract: ContractDefinition, options: DocsPageOptions): string {
  const { requests, notifications } = catalog(contract);
  const appRequests = requests.filter((entry) => !entry.system);
  const appNotifications = notifications.filter((entry) => !entry.system);
  const systemRequests = requests.filter((entry) => entry.system);
  const systemNotifications = notifications.filter((entry) => entry.system);
  const link = options.asyncApiHref === undefined ? '' : html` · <a href="${options.asyncApiHref}">AsyncAPI document</a>`;
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${DOCS_CONTENT_SECURITY_POLICY}">
<meta name="generator" content="@herald/asyncapi">
<title>${options.title} ${options.version} – API reference</title>
<style>${STYLE}</style>
</head>
<body>
<div class="layout">
<nav aria-label="Contents">
<ul>
<li><a href="#overview">Overview</a></li>
<li><a href="#connecting">Connecting</a></li>
${navList('Requests', 'requests', 'request', appRequests.map((entry) => entry.type))}
${navList('Notifications', 'notifications', 'notification', appNotifications.map((entry) => entry.type))}
<li><a href="#system">System messages</a></li>
<li><a href="#close-codes">Close codes</a></li>
<li><a href="#error-codes">Error codes</a></li>
</ul>
</nav>
<main>
<header>
<h1>${options.title}</h1>
<p class="meta">Version ${options.version} · protocol <code>${PROTOCOL_NAME}</code>${link}</p>
${paragraphs(options.description)}
</header>
${overview()}
${connecting(options)}
<section id="requests">
<h2>Requests</h2>
<p>Send each as <code>{"kind":"req","id":…,"type":…,"body":…}</code>; the answer is one <code>resp</code> with the same <code>type</code> and <code>reqId</code> = <code>id</code>.</p>
${appRequests.length === 0 ? html`<p class="meta">This API defines no requests.</p>` : appRequests.map(requestSection)}
</section>
<section id="notifications">
<h2>Notifications</h2>
${appNotifications.length === 0 ? html`<p class="meta">This API defines no notifications.</p>` : appNotifications.map(notificationSection)}
</section>
<section id="system">
<h2>System messages</h2>
<p>The <code>herald.*</code> types are defined by the protocol, the same on every Herald endpoint.</p>
${systemRequests.map(requestSection)}
${systemNotifications.map(notificationSection)}
${errorResponseSection()}
${keepAliveSection()}
</section>
${closeCodeSection()}
${errorCodeSection()}
<footer><p class="meta">Generated from the contract by @herald/asyncapi.</p></footer>
</main>
</div>
</body>
</html>
`;
  return page.value;
}
