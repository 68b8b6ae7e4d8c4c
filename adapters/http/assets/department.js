// The department's workspace: its queue and, per ticket, the facts, the
// deadlines and the forms of the actions the API lists. No rule lives
// here: which forms show is the ticket's `actions`, decided by the engine.
'use strict';
(function () {
  const S = { token: sessionStorage.getItem('gridloop.token') || '', me: null, id: null, shape: '' };
  const $ = (sel) => document.querySelector(sel);
  const STATUS = {
    offered: '待抢单 offered', accepted: '已受理 accepted', in_progress: '办理中 in progress', resolved: '已办结 resolved',
    returned: '已退单 returned', escalated: '已上报 escalated', closed: '已关闭 closed', cancelled: '已撤销 cancelled',
  };
  const DEADLINE = {
    offer_expiry: '抢单截止 offer ends', accept: '受理时限 accept by', resolve: '办结时限 resolve by',
    summons: '报到时限 report by', feedback: '评价期 feedback until', respond: '答复时限 respond by',
  };
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v); else el.setAttribute(k, v);
    }
    for (const kid of kids.flat(3)) if (kid != null && kid !== false) el.append(kid.nodeType ? kid : String(kid));
    return el;
  }
  // Times in the district's zone, as the console shows them.
  function when(iso) {
    if (!iso) return '—';
    const zone = (S.me && S.me.time_zone) || undefined;
    return new Date(iso).toLocaleString('zh-CN', { timeZone: zone, hour12: false });
  }
  const due = (d) => (DEADLINE[d.kind] || d.kind) + ' ' + when(d.at);
  async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + S.token };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.error && data.error.message) || response.statusText);
      error.code = data && data.error && data.error.code;
      throw error;
    }
    return data;
  }
  const say = (error) => error.message + (error.code ? ' (' + error.code + ')' : '');

  async function login(event) {
    if (event) event.preventDefault();
    const typed = $('#token').value.trim();
    if (typed) S.token = typed;
    if (!S.token) return;
    try {
      S.me = await api('GET', '/api/v1/me');
    } catch (error) {
      $('#error').textContent = '登录失败 Log-in refused: ' + say(error);
      return;
    }
    sessionStorage.setItem('gridloop.token', S.token);
    const dept = (S.me.departments || []).find((d) => d.code === S.me.id);
    $('#who').textContent = (dept ? dept.name + ' ' + dept.name_en : S.me.id) + ' · ' + S.me.role;
    $('#login').hidden = true; $('#logout').hidden = false; $('#main').hidden = false; $('#error').textContent = '';
    await loadQueue();
  }
  function logout() {
    sessionStorage.removeItem('gridloop.token');
    location.reload();
  }

  // The queue as the API sorts it: soonest deadline first.
  async function loadQueue() {
    let queue;
    try { queue = await api('GET', '/api/v1/queues/department/' + encodeURIComponent(S.me.id)); } catch (error) { $('#error').textContent = say(error); return; }
    $('#counts').textContent = queue.total + ' · 逾期 overdue ' + queue.overdue;
    $('#empty').hidden = queue.items.length > 0;
    $('#queue tbody').replaceChildren(...queue.items.map((row) => h('tr', { 'data-id': row.id, 'aria-selected': String(row.id === S.id), onclick: () => openTicket(row.id) },
      h('td', {}, h('a', { href: '#' + row.id }, row.id)), h('td', {}, row.item || ''),
      h('td', {}, STATUS[row.status] || row.status, row.queued === 'offered' ? ' · 可接 offered' : ''),
      h('td', { 'data-overdue': String(row.overdue) }, row.next_deadline ? due(row.next_deadline) : '—',
        row.overdue ? [' ', h('span', { class: 'tag overdue' }, '逾期 overdue')] : null))));
  }

  async function openTicket(id) {
    S.id = id; S.shape = '';
    location.hash = id;
    await loadTicket();
  }
  async function loadTicket() {
    let ticket;
    try { ticket = await api('GET', '/api/v1/tickets/' + encodeURIComponent(S.id)); } catch (error) {
      $('#ticket').hidden = true; $('#error').textContent = say(error); return;
    }
    $('#ticket').hidden = false;
    $('#t-title').textContent = ticket.id + ' · ' + (ticket.item || '');
    const fact = (label, value, id) => [h('dt', {}, label), h('dd', id ? { id } : {}, value)];
    $('#t-facts').replaceChildren(...[
      fact('状态 Status', STATUS[ticket.board_status] || ticket.board_status, 't-status'),
      fact('网格 Grid', ticket.grid || ''),
      fact('时限 Deadlines', ticket.pending_deadlines.length ? ticket.pending_deadlines.map((d) => h('div', { 'data-kind': d.kind, 'data-at': d.at }, due(d))) : '—', 't-deadlines'),
      ticket.overdue ? fact('', h('span', { class: 'tag overdue' }, '逾期 overdue')) : [],
      ticket.extension ? fact('延期申请 Extension asked', when(ticket.extension.until) + ' · ' + ticket.extension.reason, 't-extension') : [],
      ticket.urges ? fact('催办 Urged', ticket.urges + ' 次 times', 't-urges') : [],
      ticket.result ? fact('结果 Result', ticket.result) : [],
    ].flat());
    $('#t-timeline').replaceChildren(...timeline(ticket));
    // Forms are rebuilt only when what is offered changes, so typing survives a reload.
    const shape = ticket.board_status + '/' + ticket.actions.join(',');
    if (shape !== S.shape) { S.shape = shape; renderActions(ticket); }
  }
  // The ticket's own record in plain words: what the ticket read carries.
  function timeline(t) {
    const line = (at, text) => h('li', {}, h('time', { datetime: at }, when(at)), h('div', {}, text));
    return [
      t.submitted_at ? line(t.submitted_at, '居民下单 ordered by a resident') : null,
      t.accepted_at ? line(t.accepted_at, '受理 accepted') : null,
      t.returns ? h('li', {}, '退单 ' + t.returns + ' 次 returned ' + t.returns + ' time(s)') : null,
      t.extensions_asked ? h('li', {}, '申请延期 ' + t.extensions_asked + ' 次 extension asked ' + t.extensions_asked + ' time(s)') : null,
      (t.summons || []).map((s) => h('li', {}, '吹哨召集 summoned ' + s.department + ' · 报到时限 report by ' + when(s.report_by) + (s.reported ? ' · 已报到 reported' : ''))),
      t.resolved_at ? line(t.resolved_at, '办结 resolved') : null,
      t.closed_at ? line(t.closed_at, '关闭 closed') : null,
    ];
  }

  function renderActions(ticket) {
    const box = $('#t-actions');
    const result = $('#t-result');
    const can = new Set(ticket.actions);
    box.replaceChildren();
    async function act(action, body, label) {
      result.className = 'result'; result.textContent = '…';
      try {
        await api('POST', '/api/v1/tickets/' + encodeURIComponent(ticket.id) + '/' + action, body);
        result.className = 'result ok'; result.textContent = '已' + label + ' Done';
        S.shape = '';
        await Promise.all([loadTicket(), loadQueue()]);
      } catch (error) {
        result.className = 'result error'; result.textContent = '未成 Refused: ' + say(error);
      }
    }
    const field = (id, label, input) => h('div', {}, h('label', { for: id }, label), input);
    const form = (name, label, kids, body, danger) => box.append(h('fieldset', { id: 'act-' + name }, h('legend', {}, label), kids,
      h('button', { type: 'button', id: name + '-button', class: danger ? 'danger' : null, onclick: () => act(name, body(), label) }, label)));
    const text = (id) => h('input', { id, size: 32, maxlength: 2000 });
    if (can.has('accept')) form('accept', '受理 Accept', [], () => ({}));
    if (can.has('start')) form('start', '开始办理 Start', [], () => undefined);
    if (can.has('resolve')) {
      const res = h('textarea', { id: 'resolve-text', rows: 2, cols: 40, maxlength: 2000 });
      const minutes = h('input', { id: 'resolve-minutes', type: 'number', min: 0, max: 100000, value: 30, size: 6 });
      const photos = h('input', { id: 'resolve-photos', type: 'file', accept: 'image/jpeg,image/png,image/webp', multiple: true });
      box.append(h('fieldset', { id: 'act-resolve' }, h('legend', {}, '办结 Resolve'),
        field('resolve-text', '结果 Result', res), field('resolve-minutes', '用时(分) Minutes', minutes), field('resolve-photos', '照片 Photos', photos),
        h('button', { type: 'button', id: 'resolve-button', onclick: async () => {
          // After-photos go to the photo store first; the result names their hashes.
          const hashes = [];
          try {
            for (const file of photos.files) hashes.push((await upload(file)).hash);
          } catch (error) { result.className = 'result error'; result.textContent = '照片未存 Photo refused: ' + say(error); return; }
          act('resolve', { result: res.value.trim(), minutes_spent: Number(minutes.value) || 0, photos: hashes }, '办结 Resolve');
        } }, '办结 Resolve')));
    }
    if (can.has('return')) {
      const reason = text('return-reason');
      form('return', '退单 Return', field('return-reason', '理由 Reason', reason), () => ({ reason: reason.value.trim() }), true);
    }
    if (can.has('ask-extension')) {
      const until = h('input', { id: 'extension-until', type: 'datetime-local', step: 60 });
      const reason = text('extension-reason');
      form('ask-extension', '申请延期 Ask for an extension', [field('extension-until', '延至 Until', until), field('extension-reason', '理由 Reason', reason)],
        () => ({ until: until.value ? new Date(until.value).toISOString() : '', reason: reason.value.trim() }));
    }
    if (can.has('report')) {
      const report = text('report-text');
      form('report', '报到 Answer the summons', field('report-text', '报到内容 Report', report), () => ({ report: report.value.trim() }));
    }
    if (!box.children.length) box.append(h('p', { class: 'muted', id: 'no-actions' }, '现无可办 Nothing to do on this ticket now'));
  }
  async function upload(file) {
    const response = await fetch('/api/v1/photos', { method: 'POST', headers: { Authorization: 'Bearer ' + S.token, 'Content-Type': 'application/octet-stream' }, body: file });
    const data = await response.json().catch(() => null);
    if (!response.ok) { const e = new Error((data && data.error && data.error.message) || response.statusText); e.code = data && data.error && data.error.code; throw e; }
    return data;
  }

  document.addEventListener('DOMContentLoaded', async () => {
    $('#login').addEventListener('submit', login);
    $('#logout').addEventListener('click', logout);
    if (S.token) await login();
    const id = location.hash.slice(1);
    if (S.me && id) await openTicket(id);
    // The dispatcher's answers arrive without a click here: look again now and then.
    setInterval(() => { if (S.me) { loadQueue(); if (S.id) loadTicket(); } }, 10000);
  });
})();
