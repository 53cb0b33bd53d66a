/**
 * The live-events demo (docs/events.md): a page that opens an EventSource with a stream ticket
 * and shows each event as it arrives, and can add, toggle and delete tasks. Open it in two tabs
 * with the same user and token, change a task in one, and watch the other. Its script is a file
 * of its own: the Content-Security-Policy allows no inline script.
 */

export const DEMO_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tasks service: live events demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 15px/1.4 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
input { font: inherit; padding: .25rem; }
#token { width: 100%; }
#tasks li { margin: .2rem 0; }
#log { background: #f4f4f4; padding: .5rem; height: 16rem; overflow: auto; font: 12px monospace; white-space: pre-wrap; }
.done { text-decoration: line-through; color: #777; }
</style>
</head>
<body>
<h1>Live events demo</h1>
<p>Open this page in two tabs with the same user and token. A change made in one tab appears in
the other at once, through <code>GET /api/{userId}/events</code>. Get a token with
<code>npm run -s token -- &lt;userId&gt;</code>.</p>
<form id="connect">
  <label>User id <input id="user" required value="demo-user"></label><br>
  <label>Bearer token <input id="token" required autocomplete="off"></label><br>
  <button type="submit">Connect</button> <span id="status" data-state="closed">not connected</span>
</form>
<h2>Tasks</h2>
<form id="add"><input id="title" placeholder="A new task" maxlength="255" required> <button type="submit">Add</button></form>
<ul id="tasks"></ul>
<h2>Events</h2>
<div id="log"></div>
<script src="/demo/app.js"></script>
</body>
</html>
`;

export const DEMO_SCRIPT = `'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const tasks = new Map();
  let source = null;
  let lastEventId = null;

  const saved = JSON.parse(localStorage.getItem('tasks-demo') || '{}');
  if (saved.user) $('user').value = saved.user;
  if (saved.token) $('token').value = saved.token;

  const user = () => encodeURIComponent($('user').value.trim());
  const api = (path, options = {}) =>
    fetch('/api/' + user() + path, {
      ...options,
      headers: { Authorization: 'Bearer ' + $('token').value.trim(), ...(options.headers || {}) },
    });
  const log = (text) => {
    const line = document.createElement('div');
    line.textContent = new Date().toISOString().slice(11, 23) + ' ' + text;
    $('log').prepend(line);
  };
  const status = (state, text) => {
    $('status').dataset.state = state;
    $('status').textContent = text;
  };

  const render = () => {
    const list = $('tasks');
    list.replaceChildren();
    for (const task of tasks.values()) {
      const item = document.createElement('li');
      item.dataset.id = task.id;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = task.completed;
      box.onchange = () => api('/tasks/' + task.id + '/complete', { method: 'PATCH' });
      const title = document.createElement('span');
      title.textContent = ' ' + task.title + ' ';
      title.className = task.completed ? 'done' : '';
      const remove = document.createElement('button');
      remove.textContent = 'delete';
      remove.onclick = () => api('/tasks/' + task.id, { method: 'DELETE' });
      item.append(box, title, remove);
      list.append(item);
    }
  };

  const apply = (change) => {
    if (change.deleted) tasks.delete(change.id);
    else tasks.set(change.id, change);
    render();
  };

  // A ticket per connection: EventSource cannot send the Authorization header, and a ticket
  // works once, so a dropped stream is reopened here with a new one and the last event id.
  const open = async () => {
    if (source) source.close();
    const answer = await api('/events/tickets', { method: 'POST' });
    if (!answer.ok) {
      status('error', 'ticket refused: ' + answer.status);
      return;
    }
    const { ticket } = await answer.json();
    const query = '?ticket=' + encodeURIComponent(ticket) +
      (lastEventId ? '&last_event_id=' + encodeURIComponent(lastEventId) : '');
    source = new EventSource('/api/' + user() + '/events' + query);
    source.addEventListener('ready', (event) => {
      lastEventId = event.lastEventId || lastEventId;
      status('open', 'connected');
      log('stream open');
    });
    source.addEventListener('change', (event) => {
      lastEventId = event.lastEventId;
      const change = JSON.parse(event.data);
      log('change ' + (change.deleted ? 'deleted ' + change.id : JSON.stringify(change.title)));
      apply(change);
    });
    source.addEventListener('reminder', (event) => {
      const task = JSON.parse(event.data);
      log('reminder: ' + task.title);
    });
    source.onerror = () => {
      status('closed', 'reconnecting');
      source.close();
      setTimeout(open, 1000);
    };
  };

  $('connect').onsubmit = async (event) => {
    event.preventDefault();
    localStorage.setItem('tasks-demo', JSON.stringify({ user: $('user').value, token: $('token').value }));
    const answer = await api('/tasks?limit=100');
    if (!answer.ok) {
      status('error', 'refused: ' + answer.status);
      return;
    }
    tasks.clear();
    for (const task of await answer.json()) tasks.set(task.id, task);
    render();
    lastEventId = null;
    await open();
  };

  $('add').onsubmit = async (event) => {
    event.preventDefault();
    await api('/tasks', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: $('title').value }),
    });
    $('title').value = '';
  };
})();
`;
