// The playground, after the seed's "Server Push Notification Demo": connect with the real
// client SDK, send any request of the contract, and watch every frame both ways.
import { autoTransport, createClient } from '/herald-client.js';

const $ = (id) => document.getElementById(id);
const STATUS = { connecting: 'CONNECTING', open: 'OPENED', reconnecting: 'RECONNECTING', closed: 'CLOSED' };
const KINDS = new Set(['req', 'resp', 'notification', 'ack', 'ping', 'pong']);
/** Request types of the contract, from the AsyncAPI document: example body and description. */
const requestTypes = new Map();

let client;
/** The current connection as the log sees it, for the Ping button. */
let wire;

const now = () => {
  const date = new Date();
  return `${date.toTimeString().slice(0, 8)}.${String(date.getMilliseconds()).padStart(3, '0')}`;
};

/** Tokens travel in-session; the log shows that they do, not what they are. */
const mask = (text) => text.replace(/("token"\s*:\s*")[^"]*/g, '$1•••');

function log(kind, direction, text, failed = false) {
  const view = $('log');
  const following = view.scrollTop + view.clientHeight >= view.scrollHeight - 8;
  const entry = document.createElement('div');
  entry.className = `entry ${kind}${failed ? ' failed' : ''}`;
  const cells = [
    ['time', now()],
    ['span', direction],
    ['span', kind],
    ['code', text],
  ].map(([tag, content]) => Object.assign(document.createElement(tag), { textContent: content }));
  cells[2].className = 'kind';
  entry.append(...cells);
  view.append(entry);
  if (following) view.scrollTop = view.scrollHeight;
}

function logFrame(direction, text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    return log('error', direction, text);
  }
  const kind = KINDS.has(message?.kind) ? message.kind : 'error';
  log(kind, direction, mask(text), kind === 'resp' && message.code >= 400);
}

/** Wraps a transport to log raw frames in both directions, keep-alives and acks included. */
const observe = (transport) => (events) => {
  const connection = transport({
    onOpen: () => events.onOpen(),
    onMessage: (text) => {
      logFrame('←', text);
      events.onMessage(text);
    },
    onClose: (code, reason) => {
      if (wire === observed) wire = undefined;
      log('system', '', `connection closed: ${code}${reason ? ` ${reason}` : ''}`);
      events.onClose(code, reason);
    },
  });
  const observed = {
    send(text) {
      logFrame('→', text);
      connection.send(text);
    },
    close: (code, reason) => connection.close(code, reason),
  };
  wire = observed;
  return observed;
};

function showState(state) {
  $('status').textContent = STATUS[state];
  $('status').dataset.state = state;
  $('close').disabled = state === 'closed';
  $('session').textContent = client?.sessionId ?? '—';
}

function connect() {
  client?.close();
  const url = $('url').value.trim();
  const token = $('token').value.trim();
  log('system', '', `connecting to ${url}`);
  client = createClient({
    transport: observe(
      autoTransport({
        url,
        onTransport: (kind) => {
          $('transport').textContent = kind;
          log('system', '', `transport: ${kind}`);
        },
      }),
    ),
    ...(token === '' ? {} : { token }),
    onStateChange: showState,
    onError: (error) => log('error', '', error?.message ?? String(error)),
    onRecoveryFailed: ({ sessionReset, topics }) =>
      log('system', '', `resumed with a gap (${sessionReset ? 'new session' : `topics ${topics.join(', ')}`}): refetch`),
  });
  showState(client.state);
}

async function send() {
  if (client === undefined || client.state === 'closed') return log('error', '', 'not connected: press Connect first');
  const type = $('type').value;
  let body;
  try {
    body = JSON.parse($('body').value.trim() || '{}');
  } catch (error) {
    return log('error', '', `the body is not JSON: ${error.message}`);
  }
  try {
    await client.request(type, body);
  } catch (error) {
    // Server errors are in the log already as their resp; this also covers timeouts and the like.
    log('error', '', `${type} failed: ${error.code} ${error.reason ?? ''} ${error.message}`);
  }
}

function pick(type) {
  const entry = requestTypes.get(type);
  if (entry === undefined) return;
  $('type').value = type;
  $('body').value = JSON.stringify(entry.body, null, 2);
  $('type-description').textContent = entry.description;
}

async function loadRequestTypes() {
  const spec = await (await fetch('/asyncapi.json')).json();
  for (const [type, operation] of Object.entries(spec.operations)) {
    if (operation.action !== 'send' || !operation.tags?.some((tag) => tag.name === 'request')) continue;
    const message = spec.components.messages[operation.messages[0].$ref.split('/').pop()];
    requestTypes.set(type, { body: message?.examples?.[0]?.payload?.body ?? {}, description: operation.description ?? '' });
    $('type').append(new Option(type, type));
  }
  pick(requestTypes.has('chat.Join') ? 'chat.Join' : $('type').value);
}

$('url').value = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
$('connect').addEventListener('click', connect);
$('close').addEventListener('click', () => client?.close());
$('send').addEventListener('click', send);
$('type').addEventListener('change', (event) => pick(event.target.value));
$('ping').addEventListener('click', () => (wire === undefined ? log('error', '', 'not connected') : wire.send('{"kind":"ping"}')));
$('clear').addEventListener('click', () => $('log').replaceChildren());
$('show-acks').addEventListener('change', (event) => $('log').classList.toggle('hide-ack', !event.target.checked));
$('show-keepalive').addEventListener('change', (event) => $('log').classList.toggle('hide-keepalive', !event.target.checked));
document.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    send();
  }
});
loadRequestTypes().catch((error) => log('error', '', `cannot load the request types from /asyncapi.json: ${error.message}`));
