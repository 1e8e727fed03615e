// The contact center in the browser: a consumer opens a conversation for a skill, agents see
// the rings in real time and the first to accept gets the conversation. Every message shows a
// ✓ once the server has answered the request that carried it (delivery confirmation).
import { autoTransport, createClient } from '/herald-client.js';

const $ = (id) => document.getElementById(id);
const STATUS = { connecting: 'CONNECTING', open: 'OPENED', reconnecting: 'RECONNECTING', closed: 'CLOSED' };
const NAME = /^[a-z0-9]{1,32}$/;
const SKILL = /^[0-9]{1,9}$/;

const params = new URLSearchParams(location.search);
const role = params.get('role');
const me = params.get('name') ?? '';
const skills = (params.get('skills') ?? params.get('skill') ?? '').split(',').map((skill) => skill.trim()).filter(Boolean);

let client;
/** Open conversation views by convId. */
const conversations = new Map();

// ---- conversations (both roles) -------------------------------------------------------------

function conversationView(convId, title) {
  const element = $('conversation-template').content.firstElementChild.cloneNode(true);
  element.dataset.convId = convId;
  element.querySelector('.title').textContent = title;
  const list = element.querySelector('.messages');
  const status = element.querySelector('.conv-status');
  const form = element.querySelector('form');
  const input = element.querySelector('.message-text');

  const append = (item) => {
    list.append(item);
    list.scrollTop = list.scrollHeight;
    return item;
  };
  const view = {
    element,
    setStatus: (text) => (status.textContent = text),
    notice: (text) => append(Object.assign(document.createElement('li'), { className: 'message notice', textContent: text })),
    add({ from, text }, mine) {
      const item = document.createElement('li');
      item.className = `message ${mine ? 'mine' : 'theirs'}`;
      item.append(Object.assign(document.createElement('span'), { className: 'from', textContent: from }), text);
      if (mine) {
        item.dataset.state = 'pending';
        item.append(Object.assign(document.createElement('span'), { className: 'tick', textContent: '…', title: 'sending' }));
      }
      return append(item);
    },
    /** Marks a message of ours once its request was answered (or failed). */
    confirm(item, error) {
      const tick = item.querySelector('.tick');
      item.dataset.state = error === undefined ? 'delivered' : 'failed';
      tick.textContent = error === undefined ? '✓' : `✗ ${error.reason ?? error.message}`;
      tick.title = error === undefined ? 'the server has it' : error.message;
    },
    close(text) {
      status.textContent = text;
      for (const control of element.querySelectorAll('input, button')) control.disabled = true;
      conversations.delete(convId);
      if (role === 'consumer') $('open-form').hidden = false;
    },
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text === '') return;
    input.value = '';
    const item = view.add({ from: me, text }, true);
    client.request('cc.SendMessage', { convId, text }).then(
      () => view.confirm(item),
      (error) => view.confirm(item, error),
    );
  });
  element.querySelector('.end').addEventListener('click', () => {
    client.request('cc.CloseConversation', { convId }).then(
      () => view.close('You ended the conversation'),
      (error) => view.notice(`could not end it: ${error.message}`),
    );
  });
  conversations.set(convId, view);
  return view;
}

function conversationUpdated(update) {
  const view = conversations.get(update.convId);
  if (update.convState === 'CLOSE') {
    view?.notice(`${update.closedBy} ended the conversation`);
    view?.close(`Ended by ${update.closedBy}`);
    closedRing(update.convId);
  } else if (update.agentId !== undefined) {
    view?.setStatus(`With agent ${update.agentId}`);
    view?.notice(`Agent ${update.agentId} joined`);
  }
}

// ---- agent ------------------------------------------------------------------------------------

/** Ring list items by ringId. */
const rings = new Map();

function showRing(ring) {
  let item = rings.get(ring.ringId);
  // A final state is never undone by a late WAITING (the snapshot sent when subscribing).
  if (item !== undefined && item.dataset.state !== 'WAITING' && ring.ringState === 'WAITING') return;
  if (item === undefined) {
    item = document.createElement('li');
    item.className = 'ring';
    item.dataset.ringId = ring.ringId;
    item.dataset.convId = ring.convId;
    const title = Object.assign(document.createElement('span'), { textContent: `Consumer ${ring.consumerId} · skill ${ring.skillId}` });
    const meta = Object.assign(document.createElement('span'), { className: 'meta', textContent: `conversation ${ring.convId.slice(0, 8)} · ring ${ring.ringId.slice(0, 8)}` });
    const row = Object.assign(document.createElement('div'), { className: 'row' });
    const accept = Object.assign(document.createElement('button'), { className: 'accept primary', textContent: 'Accept' });
    accept.addEventListener('click', () => acceptRing(ring.ringId, item));
    row.append(Object.assign(document.createElement('span'), { className: 'ring-state grow' }), accept);
    item.append(title, meta, row);
    rings.set(ring.ringId, item);
    $('rings').prepend(item);
    $('no-rings').hidden = true;
  }
  item.dataset.state = ring.ringState;
  const mine = ring.agentId === me;
  const taken = ring.ringState === 'ACCEPTED' && !mine;
  item.classList.toggle('taken', taken);
  item.querySelector('.ring-state').textContent =
    ring.ringState === 'ACCEPTED' ? (mine ? 'ACCEPTED by you' : `ACCEPTED by ${ring.agentId}: taken`) : ring.ringState;
  item.querySelector('.accept').disabled = ring.ringState !== 'WAITING';
}

function closedRing(convId) {
  for (const item of rings.values()) {
    if (item.dataset.convId !== convId || item.dataset.ended === 'true') continue;
    item.dataset.ended = 'true';
    item.querySelector('.accept').disabled = true;
    item.querySelector('.ring-state').textContent += ' · conversation ended';
  }
}

async function acceptRing(ringId, item) {
  item.querySelector('.accept').disabled = true;
  try {
    const accepted = await client.request('cc.AcceptRing', { ringId });
    const view = conversationView(accepted.convId, `Consumer ${accepted.consumerId} · skill ${accepted.skill}`);
    view.setStatus('Accepted');
    for (const message of accepted.messages) view.add(message, message.from === me);
    for (const delivered of view.element.querySelectorAll('.message.mine')) view.confirm(delivered);
    $('conversations').prepend(view.element);
    $('no-conversations').hidden = true;
    view.element.querySelector('.message-text').focus();
  } catch (error) {
    item.classList.add('taken');
    item.querySelector('.ring-state').textContent = `${error.code} ${error.reason}: ${error.message}`;
  }
}

function subscribeToRings() {
  client.request('ams.aam.SubscribeExConversations', { skills, convState: ['OPEN', 'CLOSE'] }).then(
    ({ subscriptionId }) => ($('subscription').textContent = `· skills ${skills.join(', ')} · ${subscriptionId}`),
    (error) => ($('subscription').textContent = `· subscription refused: ${error.message}`),
  );
}

/** Who else is on the skills' ring topics: their presence members are the agents online, kept live. */
function watchAgents() {
  const render = () =>
    ($('agents-online').textContent = `Agents online: ${skills
      .map((skill) => `skill ${skill}: ${[...(presences.get(skill)?.members.keys() ?? [])].sort().join(', ') || 'none'}`)
      .join(' · ')}`);
  for (const skill of skills) {
    const presence = client.presence(`cc/skill/${skill}/OPEN`);
    presences.set(skill, presence);
    for (const event of ['sync', 'join', 'leave']) presence.on(event, render);
  }
}
const presences = new Map();

// ---- consumer ---------------------------------------------------------------------------------

/** How many agents of the skill are online, asked of the server (consumers may not watch the skill's topic). */
async function showSkillAgents() {
  const skill = $('skill').value.trim();
  if (!SKILL.test(skill) || client?.state !== 'open') return;
  try {
    const { count } = await client.request('cc.AgentsOnline', { skill });
    $('skill-agents').textContent = `${count} agent${count === 1 ? '' : 's'} online for skill ${skill}`;
  } catch (error) {
    $('skill-agents').textContent = `${error.code} ${error.reason}: ${error.message}`;
  }
}

async function openConversation(event) {
  event.preventDefault();
  const skill = $('skill').value.trim();
  const text = $('first-message').value.trim();
  $('open').disabled = true;
  $('open-error').textContent = '';
  try {
    const { convId } = await client.request('cc.OpenConversation', { skill, text });
    const view = conversationView(convId, `Skill ${skill}`);
    view.confirm(view.add({ from: me, text }, true));
    view.setStatus('Waiting for an agent…');
    $('consumer-conversation').replaceChildren(view.element);
    $('open-form').hidden = true;
  } catch (error) {
    $('open-error').textContent = `${error.code} ${error.reason}: ${error.message}`;
  } finally {
    $('open').disabled = client.state !== 'open';
  }
}

// ---- connection -------------------------------------------------------------------------------

function showState(state) {
  $('status').textContent = STATUS[state];
  $('status').dataset.state = state;
  $('connect').textContent = state === 'closed' ? 'Connect' : 'Disconnect';
  $('open').disabled = state !== 'open';
  if (state === 'open' && role === 'consumer') void showSkillAgents();
}

function connect() {
  if (client !== undefined && client.state !== 'closed') return client.close();
  client = createClient({
    transport: autoTransport({
      url: `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`,
      onTransport: (kind) => ($('transport').textContent = kind),
    }),
    token: $('token').value.trim(),
    onStateChange: showState,
    // The server lost the session, and its server-side subscriptions with it.
    onRecoveryFailed: ({ sessionReset }) => role === 'agent' && sessionReset && subscribeToRings(),
    onError: (error) => console.warn('herald:', error),
  });
  showState(client.state);
  client.on('cc.Message', (message) => conversations.get(message.convId)?.add(message, false));
  client.on('cc.ConversationUpdated', conversationUpdated);
  if (role === 'agent') {
    client.on('ams.routing.RingUpdated', showRing);
    subscribeToRings();
    watchAgents();
  }
}

function start() {
  const valid = NAME.test(me) && skills.length > 0 && skills.every((skill) => SKILL.test(skill));
  if ((role !== 'agent' && role !== 'consumer') || !valid) {
    if (role !== null) $('chooser-error').textContent = 'Give a role (agent or consumer), a name of lower-case letters and digits, and numeric skills.';
    $('chooser').hidden = false;
    return;
  }
  document.title = `${role === 'agent' ? 'Agent' : 'Consumer'} ${me} · Herald contact center`;
  $('who').textContent = role === 'agent' ? `Agent ${me} · skills ${skills.join(', ')}` : `Consumer ${me}`;
  // The demo's tokens carry the role: only an agent token may subscribe to a skill's rings.
  $('token').value = role === 'agent' ? `demo-agent-${me}-${skills.join('.')}` : `demo-${me}`;
  $('identity').hidden = false;
  $(role).hidden = false;
  $('skill').value = skills[0];
  $('connect').addEventListener('click', connect);
  $('open-form').addEventListener('submit', openConversation);
  $('skill').addEventListener('change', () => void showSkillAgents());
  showState('closed');
}

start();
