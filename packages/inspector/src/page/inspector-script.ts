/**
 * The page's script: plain custom elements, no framework and no build step. It is served as it
 * is written here; it builds every node with `textContent` (user ids and topics are data, never
 * markup) and sends the token in `Authorization`, kept in `sessionStorage` for the tab only.
 */
export const INSPECTOR_SCRIPT: string = String.raw`
const TOKEN_KEY = 'herald-inspector-token';
const POLL_MS = 1000;

function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return s + ' s';
  if (s < 7200) return Math.round(s / 60) + ' min';
  return Math.round(s / 3600) + ' h';
}

function clock(at) {
  return new Date(at).toLocaleTimeString();
}

function bytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
  return (n / 1024 / 1024).toFixed(1) + ' MiB';
}

function table(className, headings, rows, empty) {
  return h('table', { class: className },
    h('thead', {}, h('tr', {}, headings.map((heading) => h('th', {}, heading)))),
    h('tbody', {}, rows.length === 0 ? h('tr', { class: 'empty' }, h('td', { colspan: headings.length }, empty)) : rows));
}

class InspectorSessions extends HTMLElement {
  show(view) {
    const { nodes, actions, now, inspector } = view;
    const rows = [];
    let total = 0;
    for (const { node, snapshot } of nodes) {
      total += snapshot.sessionCount;
      for (const session of snapshot.sessions) {
        const topics = session.topics.map((topic) => h('span', { class: 'topic' }, topic,
          actions ? h('button', { class: 'unsubscribe', title: 'Unsubscribe from ' + topic, 'aria-label': 'Unsubscribe from ' + topic,
            onclick: () => inspector.act('unsubscribe', { node, session: session.id, topic }) }, '×') : undefined));
        const close = session.lastClose;
        rows.push(h('tr', { 'data-session': session.id, 'data-node': node, 'data-user': session.userId ?? '', class: 'state-' + session.state },
          h('td', {}, node),
          h('td', {}, h('a', { href: '#', class: 'session-id', onclick: (event) => { event.preventDefault(); inspector.select(node, session); } }, session.id)),
          h('td', { class: 'user' }, session.userId ?? '—'),
          h('td', {}, session.transport ?? '—'),
          h('td', { class: 'state' }, session.state),
          h('td', {}, duration(now - session.openedAt)),
          h('td', { class: 'topics' }, topics),
          h('td', { class: 'number' }, session.unacked),
          h('td', { class: 'number' }, bytes(session.bufferedBytes)),
          h('td', {}, close === undefined ? '—' : (close.code ?? '—') + (close.reason ? ' ' + close.reason : '') + ' (' + duration(now - close.at) + ' ago)'),
          h('td', {}, actions ? h('button', { class: 'disconnect', onclick: () => inspector.act('disconnect', { node, session: session.id }) }, 'Disconnect') : '')));
      }
    }
    const count = total === rows.length ? String(total) : total + ' (listing ' + rows.length + ')';
    this.replaceChildren(h('h2', {}, 'Sessions ', h('span', { class: 'count' }, count)),
      table('sessions', ['Node', 'Session', 'User', 'Transport', 'State', 'Age', 'Topics', 'Unacked', 'Buffered', 'Last close', ''], rows, 'No sessions'));
  }
}

class InspectorTopics extends HTMLElement {
  show(view) {
    const topics = new Map();
    for (const { snapshot } of view.nodes) {
      for (const topic of snapshot.topics) {
        const seen = topics.get(topic.topic) ?? { subscribers: 0, messages: 0, offset: 0 };
        // Every node with subscribers gets every message: the topic's rate is the busiest node's, not the sum.
        topics.set(topic.topic, { subscribers: seen.subscribers + topic.subscribers, messages: Math.max(seen.messages, topic.messages), offset: Math.max(seen.offset, topic.offset) });
      }
    }
    const rows = [...topics].sort(([a], [b]) => a.localeCompare(b)).map(([topic, { subscribers, messages, offset }]) =>
      h('tr', { 'data-topic': topic }, h('td', {}, topic), h('td', { class: 'number' }, subscribers),
        h('td', { class: 'number' }, view.rate('topic ' + topic, messages).toFixed(1) + '/s'), h('td', { class: 'number' }, offset)));
    this.replaceChildren(h('h2', {}, 'Topics'), table('topics', ['Topic', 'Subscribers', 'Publish rate', 'Last offset'], rows, 'No topics'));
  }
}

class InspectorRequests extends HTMLElement {
  show(view) {
    const types = new Map();
    for (const { snapshot } of view.nodes) {
      for (const [type, codes] of Object.entries(snapshot.requests)) {
        const counts = types.get(type) ?? {};
        for (const [code, count] of Object.entries(codes)) counts[code] = (counts[code] ?? 0) + count;
        types.set(type, counts);
      }
    }
    const rows = [...types].sort(([a], [b]) => a.localeCompare(b)).map(([type, codes]) => {
      const total = Object.values(codes).reduce((sum, n) => sum + n, 0);
      return h('tr', { 'data-type': type }, h('td', {}, type), h('td', { class: 'number' }, view.rate('type ' + type, total).toFixed(1) + '/s'),
        h('td', {}, Object.entries(codes).map(([code, count]) => h('span', { class: 'code code-' + code[0] }, code + ' × ' + count))));
    });
    this.replaceChildren(h('h2', {}, 'Requests'), table('requests', ['Type', 'Rate', 'Answers by code'], rows, 'No requests answered yet'));
  }
}

class InspectorEvents extends HTMLElement {
  show(view) {
    const all = (key) => view.nodes.flatMap(({ node, snapshot }) => snapshot[key].map((event) => ({ node, ...event }))).sort((a, b) => b.at - a.at).slice(0, 20);
    this.replaceChildren(
      h('h2', {}, 'Recent refusals'),
      table('refusals', ['Time', 'Node', 'What', 'Status', 'Reason', 'Who'], all('refusals').map((r) => h('tr', {}, h('td', {}, clock(r.at)), h('td', {}, r.node), h('td', {}, r.what), h('td', {}, r.status), h('td', {}, r.reason), h('td', {}, r.userId ?? r.address ?? '—'))), 'None'),
      h('h2', {}, 'Recent errors'),
      table('errors', ['Time', 'Node', 'Event', 'Type', 'Message'], all('errors').map((e) => h('tr', {}, h('td', {}, clock(e.at)), h('td', {}, e.node), h('td', {}, e.event), h('td', {}, e.type ?? '—'), h('td', {}, e.message))), 'None'),
      h('h2', {}, 'Recent closes'),
      table('closes', ['Time', 'Node', 'User', 'Session', 'Code', 'Reason'], all('closes').map((c) => h('tr', {}, h('td', {}, clock(c.at)), h('td', {}, c.node), h('td', {}, c.userId ?? '—'), h('td', {}, c.sessionId), h('td', {}, c.code ?? '—'), h('td', {}, c.reason ?? ''))), 'None'));
  }
}

class InspectorSession extends HTMLElement {
  open(inspector, node, session) {
    this.close();
    this.inspector = inspector;
    this.target = { node, session: session.id };
    this.after = 0;
    this.list = h('ol', { class: 'frames' });
    this.status = h('p', { class: 'tail-status' }, 'Tapping frames from now on…');
    this.replaceChildren(
      h('h2', {}, 'Session ', h('code', {}, session.id), ' of ', session.userId ?? 'nobody yet', ' on ', node,
        h('button', { class: 'close-detail', onclick: () => this.close() }, 'Close')),
      this.status, this.list);
    this.hidden = false;
    this.poll();
  }

  close() {
    clearTimeout(this.timer);
    this.target = undefined;
    this.hidden = true;
    this.replaceChildren();
  }

  async poll() {
    const target = this.target;
    if (target === undefined) return;
    const query = new URLSearchParams({ node: target.node, session: target.session, after: String(this.after) });
    const response = await this.inspector.request('/frames?' + query).catch(() => undefined);
    if (this.target !== target) return;
    if (response?.status === 404) {
      this.status.textContent = 'The session ended.';
      return;
    }
    if (response?.ok) {
      const page = await response.json();
      this.after = page.next;
      this.status.textContent = 'Live: ' + page.next + (page.next === 1 ? ' frame' : ' frames') + ' since the tap started' + (this.inspector.showBodies ? '' : ' (bodies hidden)');
      for (const frame of page.frames) {
        this.list.prepend(h('li', { class: 'frame ' + frame.direction },
          h('time', {}, clock(frame.at)), h('span', { class: 'direction' }, frame.direction === 'in' ? '→ in' : '← out'), h('code', {}, JSON.stringify(frame.frame))));
      }
      while (this.list.childElementCount > 200) this.list.lastElementChild.remove();
    }
    this.timer = setTimeout(() => this.poll(), POLL_MS);
  }
}

class HeraldInspector extends HTMLElement {
  connectedCallback() {
    this.api = this.dataset.api;
    this.counters = new Map();
    this.notice = h('p', { class: 'notice', role: 'status' });
    this.tokenInput = h('input', { id: 'token', type: 'password', autocomplete: 'off', placeholder: 'inspector token', 'aria-label': 'Inspector token' });
    this.signIn = h('form', { id: 'sign-in', onsubmit: (event) => { event.preventDefault(); this.start(this.tokenInput.value.trim()); } },
      h('label', { for: 'token' }, 'Token '), this.tokenInput, h('button', { id: 'sign-in-button', type: 'submit' }, 'Sign in'));
    this.state = h('span', { id: 'state' }, 'signed out');
    this.sessions = h('inspector-sessions');
    this.topics = h('inspector-topics');
    this.requests = h('inspector-requests');
    this.events = h('inspector-events');
    this.detail = h('inspector-session', { hidden: true });
    this.main = h('main', { hidden: true }, this.sessions, this.detail, h('div', { class: 'columns' }, this.topics, this.requests), this.events);
    this.replaceChildren(
      h('header', {}, h('h1', {}, 'Herald inspector'), this.state, h('button', { id: 'sign-out', onclick: () => this.stop('Signed out.') }, 'Sign out')),
      this.signIn, this.notice, this.main);
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) this.start(token);
  }

  start(token) {
    this.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    this.signIn.hidden = true;
    this.main.hidden = false;
    this.notice.textContent = '';
    clearTimeout(this.timer);
    this.poll();
  }

  stop(message) {
    this.token = undefined;
    sessionStorage.removeItem(TOKEN_KEY);
    clearTimeout(this.timer);
    this.detail.close();
    this.signIn.hidden = false;
    this.main.hidden = true;
    this.state.textContent = 'signed out';
    this.notice.textContent = message;
  }

  request(path, init = {}) {
    return fetch(this.api + path, { ...init, cache: 'no-store', headers: { ...init.headers, authorization: 'Bearer ' + this.token } }).then((response) => {
      if (response.status === 401) this.stop('The token was refused.');
      return response;
    });
  }

  async act(action, body) {
    const response = await this.request('/' + action, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch(() => undefined);
    const answer = response === undefined ? { message: 'network error' } : await response.json().catch(() => ({}));
    this.notice.textContent = response?.ok ? action + ' done: ' + body.session + (body.topic ? ' from ' + body.topic : '') : action + ' failed: ' + (answer.message ?? response?.status);
    this.refresh();
  }

  select(node, session) {
    this.detail.open(this, node, session);
  }

  /** Per second, from the last snapshot's count of the same thing. */
  rate(key, count) {
    const previous = this.counters.get(key);
    this.next.set(key, { count, at: this.at });
    if (previous === undefined || this.at <= previous.at) return 0;
    return Math.max(0, (count - previous.count) * 1000 / (this.at - previous.at));
  }

  refresh() {
    clearTimeout(this.timer);
    this.poll();
  }

  async poll() {
    if (this.token === undefined) return;
    try {
      const response = await this.request('/snapshot');
      if (response.status === 401) return;
      if (!response.ok) throw new Error('snapshot answered ' + response.status);
      const snapshot = await response.json();
      this.showBodies = snapshot.showBodies;
      this.at = Date.now();
      this.next = new Map();
      const view = { nodes: snapshot.nodes, actions: snapshot.actions, now: snapshot.nodes[0]?.snapshot.at ?? Date.now(), inspector: this, rate: (key, count) => this.rate(key, count) };
      this.sessions.show(view);
      this.topics.show(view);
      this.requests.show(view);
      this.events.show(view);
      this.counters = this.next;
      this.state.textContent = 'live · ' + snapshot.nodes.length + (snapshot.nodes.length === 1 ? ' node' : ' nodes') + ' · ' + (snapshot.actions ? 'actions on' : 'read-only') + ' · ' + clock(this.at) +
        (snapshot.relayError ? ' · other nodes unreachable: ' + snapshot.relayError : '');
      this.dataset.polled = String((Number(this.dataset.polled ?? '0')) + 1);
    } catch (error) {
      this.state.textContent = 'unreachable: ' + error.message;
    }
    if (this.token !== undefined) this.timer = setTimeout(() => this.poll(), POLL_MS);
  }
}

customElements.define('inspector-sessions', InspectorSessions);
customElements.define('inspector-topics', InspectorTopics);
customElements.define('inspector-requests', InspectorRequests);
customElements.define('inspector-events', InspectorEvents);
customElements.define('inspector-session', InspectorSession);
customElements.define('herald-inspector', HeraldInspector);
`;
