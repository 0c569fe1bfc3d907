// The mageflow web view: the flow list at `/`, a flow's live graph at `/flows/ID`. No dependencies, no build step.
'use strict';

const STATUSES = ['pending', 'active', 'done', 'failed', 'suspended', 'interrupted', 'canceled'];
const AGES = [['', 'any age'], ['15m', 'last 15 minutes'], ['1h', 'last hour'], ['24h', 'last 24 hours'], ['7d', 'last 7 days']];
const ACTIONS = {
  suspend: {
    label: 'Suspend',
    allowed: (s) => s === 'pending' || s === 'active',
    text: 'Nothing new starts until it is resumed; tasks already running finish.',
  },
  interrupt: {
    label: 'Interrupt',
    allowed: (s) => s === 'pending' || s === 'active',
    text: 'Running tasks are aborted and nothing new starts until it is resumed; resuming runs them again.',
  },
  resume: {
    label: 'Resume',
    allowed: (s) => s === 'suspended' || s === 'interrupted',
    text: 'What was stopped runs again.',
  },
  cancel: {
    label: 'Cancel',
    allowed: (s) => !['done', 'failed', 'canceled'].includes(s),
    text: 'It ends for good: running tasks are aborted and none of its callbacks run. This cannot be undone.',
  },
};

let config = { read_only: true, token_required: false };

// ---- helpers ---------------------------------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

async function api(path, options) {
  const response = await fetch(path, options);
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok) {
    throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  }
  return body;
}

function pad(n) {
  return String(n).padStart(2, '0');
}

function formatTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function formatDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function badge(status) {
  return h('span', { class: `badge status-${status}` }, status);
}

function json(value, indent) {
  return JSON.stringify(value, null, indent);
}

function shortJson(value, max) {
  const text = typeof value === 'string' ? value : json(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

let noticeTimer = null;
function notice(text, kind) {
  const el = document.getElementById('notice');
  el.textContent = text;
  el.className = `notice ${kind || ''}`;
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 15000 : 6000);
}

function setLive(text, kind) {
  const el = document.getElementById('live');
  el.textContent = text;
  el.className = `live ${kind || ''}`;
  el.hidden = !text;
}

// ---- the flow list ---------------------------------------------------------------------------------------------

// `?status=a&status=b` (the form) or `?status=a,b` (as the API takes it)
function chosenStatuses(params) {
  return params.getAll('status').flatMap((value) => value.split(',')).map((s) => s.trim()).filter(Boolean);
}

function listQuery(params) {
  const query = new URLSearchParams();
  const statuses = chosenStatuses(params).filter((s) => STATUSES.includes(s));
  if (statuses.length) query.set('status', statuses.join(','));
  for (const key of ['name', 'younger_than', 'limit', 'after']) {
    const value = (params.get(key) || '').trim();
    if (value) query.set(key, value);
  }
  return query;
}

function filterForm(params) {
  const chosen = new Set(chosenStatuses(params));
  const age = params.get('younger_than') || '';
  return h('form', { id: 'filters', class: 'filters', method: 'get', action: '/' },
    h('fieldset', { class: 'statuses' }, h('legend', null, 'Status'),
      STATUSES.map((status) => h('label', { class: `check status-${status}` },
        h('input', { type: 'checkbox', name: 'status', value: status, checked: chosen.has(status) }), status))),
    h('label', null, 'Name ', h('input', { id: 'filter-name', name: 'name', value: params.get('name') || '', placeholder: 'exact name' })),
    h('label', null, 'Created ', h('select', { id: 'filter-age', name: 'younger_than' },
      AGES.map(([value, text]) => h('option', { value, selected: value === age }, text)))),
    h('input', { type: 'hidden', name: 'limit', value: params.get('limit') || '' }),
    h('button', { type: 'submit', id: 'apply-filters' }, 'Apply'),
    h('a', { href: '/', class: 'reset' }, 'Reset'));
}

function flowRow(flow) {
  const took = span(flow);
  return h('tr', { class: `flow-row status-${flow.status}`, 'data-id': flow.id, 'data-status': flow.status },
    h('td', null, h('a', { href: `/flows/${encodeURIComponent(flow.id)}`, class: 'flow-link' }, flow.name || '(unnamed)')),
    h('td', null, badge(flow.status)),
    h('td', null, formatTime(flow.created_at)),
    h('td', null, formatTime(flow.finished_at)),
    h('td', null, took),
    h('td', { class: 'id' }, flow.id));
}

async function showList() {
  document.title = 'Flows · mageflow';
  const params = new URLSearchParams(location.search);
  const app = document.getElementById('app');
  const body = h('tbody', { id: 'flow-rows' });
  const pages = h('nav', { class: 'pages' });
  const status = h('p', { id: 'list-status', class: 'list-status' }, 'Loading…');
  app.replaceChildren(h('section', { class: 'list' },
    filterForm(params),
    h('table', { id: 'flows', class: 'flows' },
      h('thead', null, h('tr', null, ['Name', 'Status', 'Created', 'Finished', 'Took', 'Id'].map((t) => h('th', null, t)))),
      body),
    status, pages));

  let loading = false;
  const load = async () => {
    if (loading) return; // a slow store: one request at a time
    loading = true;
    try {
      const page = await api(`/api/flows?${listQuery(params)}`);
      body.replaceChildren(...page.flows.map(flowRow));
      status.textContent = page.flows.length ? '' : 'No flows match.';
      status.className = 'list-status';
      const links = [];
      if (params.get('after')) {
        const first = new URLSearchParams(params);
        first.delete('after');
        links.push(h('a', { id: 'first-page', href: `/?${first}` }, '← First page'));
      }
      if (page.next) {
        const next = new URLSearchParams(params);
        next.set('after', page.next);
        links.push(h('a', { id: 'next-page', href: `/?${next}` }, 'Next page →'));
      }
      pages.replaceChildren(...links);
    } catch (error) {
      status.textContent = error.message;
      status.className = 'list-status error';
    } finally {
      loading = false;
    }
  };
  await load();
  setInterval(() => { if (!document.hidden) load(); }, 3000);
}

// ---- a flow ----------------------------------------------------------------------------------------------------

let current = null; // the last flow view received
let selected = null; // the id of the node whose details show

function findNode(node, id) {
  if (node.id === id) return node;
  for (const child of [...node.children, ...node.success_callbacks, ...node.error_callbacks]) {
    const found = findNode(child, id);
    if (found) return found;
  }
  return null;
}

function clock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// Times of signatures are stored to the second: a difference of 0 means less than a second.
function span(node) {
  if (!node.finished_at) return '';
  const ms = node.finished_at - Math.floor(node.created_at / 1000) * 1000;
  return ms < 1000 ? 'under 1 s' : formatDuration(ms);
}

function timing(node) {
  return node.finished_at ? `finished ${clock(node.finished_at)}` : '';
}

function progress(node) {
  const p = node.swarm;
  const finished = p.succeeded + p.failed;
  const part = (n) => (p.items ? `${(100 * n) / p.items}%` : '0%');
  const segment = (cls, n) => {
    const el = h('span', { class: `segment ${cls}` });
    el.style.width = part(n);
    return el;
  };
  const text = `${finished}/${p.items} finished (${p.succeeded} done, ${p.failed} failed), ${p.running} running`
    + (p.max_concurrency ? `, at most ${p.max_concurrency} at once` : '')
    + (p.closed ? '' : ', open for more items');
  return h('div', {
    class: 'progress', 'data-items': p.items, 'data-succeeded': p.succeeded, 'data-failed': p.failed,
    'data-running': p.running,
  },
  h('div', { class: 'bar' }, segment('done', p.succeeded), segment('failed', p.failed), segment('active', p.running)),
  h('span', { class: 'progress-text' }, text));
}

// Swarms with more items than this show each item as a small square.
const COMPACT_AFTER = 12;

function chip(node) {
  const label = `${node.name || node.kind} #${(node.position ?? 0) + 1}: ${node.status}`
    + (node.error ? ` (${node.error.message})` : '');
  return h('span', {
    class: `chip status-${node.status}${node.id === selected ? ' selected' : ''}`, 'data-id': node.id,
    'data-status': node.status, title: label, 'aria-label': label, tabindex: 0, role: 'button',
    onclick: (event) => { event.stopPropagation(); select(node.id); },
    onkeydown: (event) => { if (event.key === 'Enter') { event.stopPropagation(); select(node.id); } },
  });
}

function renderNode(node) {
  const box = h('div', {
    class: `node ${node.kind} status-${node.status}${node.id === selected ? ' selected' : ''}`,
    'data-id': node.id, 'data-kind': node.kind, 'data-status': node.status, 'data-name': node.name, tabindex: 0,
    onclick: (event) => { event.stopPropagation(); select(node.id); },
    onkeydown: (event) => { if (event.key === 'Enter') { event.stopPropagation(); select(node.id); } },
  });
  const attempt = node.kind === 'task' && node.attempt > 1 ? `attempt ${node.attempt}` : '';
  box.append(h('div', { class: 'node-head' },
    h('span', { class: 'kind' }, node.kind),
    h('span', { class: 'name' }, node.name || '(unnamed)'),
    badge(node.status)));
  const meta = [timing(node), attempt].filter(Boolean).join(' · ');
  if (meta) box.append(h('div', { class: 'meta' }, meta));
  if (node.swarm) box.append(progress(node));
  if (node.error) {
    box.append(h('div', { class: 'error', 'data-error-kind': node.error.kind },
      h('span', { class: 'error-kind' }, node.error.kind.replaceAll('_', ' ')), ' ',
      h('span', { class: 'error-message' }, node.error.message)));
  } else if (node.kind === 'task' && node.result !== null && node.result !== undefined) {
    box.append(h('div', { class: 'result' }, '→ ', shortJson(node.result, 60)));
  }
  if (node.children.length) {
    const children = node.kind === 'swarm' && node.children.length > COMPACT_AFTER ? [] : node.children.map(renderNode);
    if (node.kind === 'chain') {
      const steps = [];
      children.forEach((child, i) => {
        if (i) steps.push(h('span', { class: 'arrow', 'aria-hidden': 'true' }, '↓'));
        steps.push(child);
      });
      box.append(h('div', { class: 'steps' }, steps));
    } else if (node.children.length <= COMPACT_AFTER) {
      box.append(h('div', { class: 'items' }, children));
    } else {
      // a large swarm: one small square per item, and its failed items in full, with their errors
      box.append(h('div', { class: 'items compact' }, node.children.map(chip)));
      const failed = node.children.filter((child) => child.status === 'failed');
      if (failed.length) {
        box.append(h('div', { class: 'failed-items' }, h('span', { class: 'callback-label' }, 'failed items'),
          failed.map(renderNode)));
      }
    }
  }
  if (node.hidden_children) {
    box.append(h('div', { class: 'more' }, `… and ${node.hidden_children} more not shown`));
  }
  if (!node.success_callbacks.length && !node.error_callbacks.length) return box;
  const callback = (cls, label) => (child) => h('div', { class: `callback ${cls}` },
    h('span', { class: 'callback-label' }, label), renderNode(child));
  return h('div', { class: 'with-callbacks' }, box,
    h('div', { class: 'callbacks' },
      node.success_callbacks.map(callback('on-success', 'on success')),
      node.error_callbacks.map(callback('on-error', 'on error'))));
}

function actionButtons(node) {
  if (config.read_only) return [];
  return Object.entries(ACTIONS).map(([action, spec]) => h('button', {
    type: 'button', class: `action action-${action}`, 'data-action': action, 'data-target': node.id,
    disabled: !spec.allowed(node.status),
    onclick: () => confirmAction(action, node),
  }, spec.label));
}

function field(label, value, cls) {
  if (value === null || value === undefined || value === '') return null;
  return [h('dt', null, label), h('dd', { class: cls }, value)];
}

function pre(value) {
  return h('pre', null, json(value, 2));
}

function renderDetails(node) {
  const panel = document.getElementById('details');
  if (!panel) return;
  if (!node) {
    panel.replaceChildren(h('p', { class: 'hint' }, 'Click a node to see its details.'));
    return;
  }
  const args = node.args && Object.keys(node.args).length ? node.args : null;
  panel.replaceChildren(...[
    h('h2', null, h('span', { class: 'kind' }, node.kind), ' ', node.name || '(unnamed)', ' ', badge(node.status)),
    h('div', { class: 'actions node-actions' }, actionButtons(node)),
    h('dl', null,
      field('id', node.id, 'mono'),
      field('previous status', node.previous_status),
      field('position', node.position === null ? null : String(node.position)),
      field('attempt', node.attempt ? String(node.attempt) : null),
      field('created', formatTime(node.created_at)),
      field('finished', formatTime(node.finished_at)),
      field('created → finished', span(node) || null)),
    node.error ? h('div', { class: 'error detail-error' },
      h('h3', null, `Error (${node.error.kind}, attempt ${node.error.attempt})`),
      h('p', { class: 'error-message' }, node.error.message),
      node.error.signature_id !== node.id ? h('p', null, `from ${node.error.task} (${node.error.signature_id})`) : null)
      : null,
    args ? [h('h3', null, 'Bound arguments'), pre(args)] : null,
    node.message !== null && node.message !== undefined ? [h('h3', null, 'Message'), pre(node.message)] : null,
    node.result !== null && node.result !== undefined ? [h('h3', null, 'Result'), pre(node.result)] : null,
  ].flat().filter(Boolean));
}

function select(id) {
  selected = id;
  for (const el of document.querySelectorAll('.selected')) el.classList.remove('selected');
  for (const el of document.querySelectorAll(`.node[data-id="${CSS.escape(id)}"], .chip[data-id="${CSS.escape(id)}"]`)) {
    el.classList.add('selected');
  }
  renderDetails(current && findNode(current.root, id));
}

function renderFlow(view) {
  current = view;
  const root = view.root;
  document.title = `${root.name || root.kind} · mageflow`;
  const head = document.getElementById('flow-head');
  head.setAttribute('data-status', root.status);
  head.replaceChildren(
    h('a', { href: '/', class: 'back' }, '← All flows'),
    h('h1', null, h('span', { class: 'kind' }, root.kind), ' ', h('span', { class: 'name' }, root.name || '(unnamed)'), ' ',
      h('span', { id: 'flow-status' }, badge(root.status))),
    h('div', { class: 'meta' },
      [`id ${root.id}`, `created ${formatTime(root.created_at)}`,
        root.finished_at ? `finished ${formatTime(root.finished_at)}, ${span(root)} after its creation` : '']
        .filter(Boolean).join(' · ')),
    h('div', { id: 'actions', class: 'actions' }, actionButtons(root)));
  document.getElementById('graph').replaceChildren(renderNode(root));
  renderDetails(findNode(root, selected) || null);
}

function follow(id) {
  const source = new EventSource(`/api/flows/${encodeURIComponent(id)}/events`);
  source.addEventListener('open', () => setLive('live', 'ok'));
  source.addEventListener('error', () => setLive('reconnecting…', 'warn'));
  source.addEventListener('tree', (event) => {
    setLive('live', 'ok');
    renderFlow(JSON.parse(event.data));
  });
  source.addEventListener('problem', (event) => setLive(event.data, 'warn'));
  source.addEventListener('gone', (event) => {
    source.close();
    setLive('gone', 'warn');
    notice(event.data, 'error');
  });
}

async function showFlow(id) {
  const app = document.getElementById('app');
  app.replaceChildren(h('section', { class: 'flow' },
    h('div', { id: 'flow-head', class: 'flow-head' }, 'Loading…'),
    h('div', { class: 'legend' }, STATUSES.map((status) => badge(status))),
    h('div', { class: 'flow-body' },
      h('div', { id: 'graph', class: 'graph' }),
      h('aside', { id: 'details', class: 'details' }))));
  try {
    renderFlow(await api(`/api/flows/${encodeURIComponent(id)}`));
  } catch (error) {
    app.replaceChildren(h('section', { class: 'flow' },
      h('a', { href: '/', class: 'back' }, '← All flows'),
      h('p', { id: 'flow-error', class: 'error page-error' }, error.message)));
    return;
  }
  follow(id);
}

// ---- lifecycle actions -----------------------------------------------------------------------------------------

function confirmAction(action, node) {
  const spec = ACTIONS[action];
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = `${spec.label} ${node.kind} “${node.name || node.id}”?`;
  document.getElementById('confirm-text').textContent = spec.text;
  const tokenLabel = document.getElementById('confirm-token-label');
  const tokenInput = document.getElementById('confirm-token');
  tokenLabel.hidden = !config.token_required;
  tokenInput.value = localStorage.getItem('mageflow-token') || '';
  const ok = document.getElementById('confirm-ok');
  ok.textContent = spec.label;
  ok.setAttribute('data-action', action);
  dialog.onclose = () => {
    if (dialog.returnValue === 'ok') run(action, node, tokenInput.value.trim());
  };
  dialog.returnValue = '';
  dialog.showModal();
  (config.token_required && !tokenInput.value ? tokenInput : document.getElementById('confirm-cancel')).focus();
}

async function run(action, node, token) {
  const headers = {};
  if (config.token_required) headers.Authorization = `Bearer ${token}`;
  try {
    const answer = await api(`/api/flows/${encodeURIComponent(node.id)}/${action}`, { method: 'POST', headers });
    if (config.token_required) localStorage.setItem('mageflow-token', token);
    notice(`${ACTIONS[action].label}: ${node.name || node.id} is now ${answer.status}.`, 'ok');
    if (current) renderFlow(await api(`/api/flows/${encodeURIComponent(current.root.id)}`));
  } catch (error) {
    notice(`${ACTIONS[action].label} failed: ${error.message}`, 'error');
  }
}

// ---- start -----------------------------------------------------------------------------------------------------

async function start() {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-cancel').addEventListener('click', () => dialog.close('cancel'));
  document.getElementById('confirm-ok').addEventListener('click', () => dialog.close('ok'));
  document.getElementById('confirm-token').addEventListener('keydown', (event) => {
    if (event.key === 'Enter') dialog.close('ok');
  });
  try {
    config = await api('/api/config');
  } catch (error) {
    notice(`The web view's configuration could not be read: ${error.message}`, 'error');
  }
  const mode = document.getElementById('mode');
  if (config.read_only) {
    mode.textContent = 'read-only';
    mode.hidden = false;
  }
  const match = location.pathname.match(/^\/flows\/([^/]+)\/?$/);
  if (match) await showFlow(decodeURIComponent(match[1]));
  else await showList();
}

start();
