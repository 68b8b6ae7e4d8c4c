// The resident's pages: plain JavaScript over the JSON API. Everything the
// page says about a ticket (its status in words, deadlines, whether feedback
// is open) comes from the server; this script only maps it to the page.
// The personal link's key arrives in the URL fragment (#k=...), is kept in
// localStorage and sent as a Bearer token; it never travels in a URL again.
'use strict';
(() => {
  const S = {
    lang: localStorage.getItem('gridloop.lang') === 'en' ? 'en' : 'zh',
    token: localStorage.getItem('gridloop.resident') || '',
    item: '',
    grid: '',
  };
  const T = {
    zh: {
      my_requests: '我的诉求', order_title: '我要报事', use_location: '使用我的位置', or_address: '或输入地址',
      find: '查找', search_items: '搜索事项', description: '情况描述', photos: '照片（最多3张）',
      urgency: '紧急程度', normal: '一般', urgent: '紧急', name: '姓名', phone: '手机号',
      email: '电子邮箱（选填）', send: '提交', code: '验证码', confirm: '确认', request: '诉求',
      feedback: '您的评价', satisfied: '满意', basically_satisfied: '基本满意', unsatisfied: '不满意',
      links: '我的专属链接', new_link: '为另一设备生成链接', send_code: '发送验证码', link: '关联此设备',
      link_help: '在此设备查看您的诉求：输入手机号，我们会把验证码发送到您留下的联系方式。',
      lang_other: 'English', already: '附近已有人报告了同样的问题，您可以关注它：', follow: '关注此诉求',
      followed: '已关注，处理结果也会告诉您。', sent: '已提交，诉求编号 ', keep_link: '请保存您的专属链接（只显示一次）：',
      known_phone: '该号码已有账号。若要在此设备查看诉求，请到“我的诉求”用验证码关联。',
      held: '验证码已发送到您的联系方式，请输入验证码确认提交。', code_asked: '如果该号码已注册，验证码已发出。',
      none_yet: '暂无诉求', revoke: '停用', current: '（本设备）', result: '处理结果', no_place: '请先确定地点',
      no_item: '请选择事项', thanks: '感谢您的评价', notices: '通知', place_found: '地点：',
      err_rate_limited: '提交过于频繁', err_invalid_input: '输入有误', err_not_found: '未找到',
    },
    en: {
      my_requests: 'My requests', order_title: 'Report a problem', use_location: 'Use my location',
      or_address: 'or type an address', find: 'Find', search_items: 'Search', description: 'What is wrong',
      photos: 'Photos (up to 3)', urgency: 'Urgency', normal: 'Normal', urgent: 'Urgent', name: 'Name',
      phone: 'Mobile number', email: 'E-mail (optional)', send: 'Send', code: 'Code', confirm: 'Confirm',
      request: 'Request', feedback: 'How did it go?', satisfied: 'Satisfied', basically_satisfied: 'Basically satisfied',
      unsatisfied: 'Unsatisfied', links: 'My personal links', new_link: 'Make a link for another device',
      send_code: 'Send me a code', link: 'Link this device',
      link_help: 'To see your requests on this device, type your number: we send a code to the contact you gave.',
      lang_other: '中文', already: 'Someone nearby already reported this. You can follow it:', follow: 'Follow it',
      followed: 'Following: you will be told the result too.', sent: 'Sent. Your request is ',
      keep_link: 'Keep your personal link (shown once):',
      known_phone: 'This number has an account. To see its requests here, link this device with a code under "My requests".',
      held: 'We sent a code to your contact: type it to confirm the request.',
      code_asked: 'If this number has an account, a code is on its way.', none_yet: 'No requests yet',
      revoke: 'Revoke', current: ' (this device)', result: 'Result', no_place: 'Choose the place first',
      no_item: 'Choose what is wrong', thanks: 'Thank you', notices: 'Notices', place_found: 'Place: ',
      err_rate_limited: 'Too many requests', err_invalid_input: 'Please check', err_not_found: 'Not found',
    },
  };
  const $ = (sel) => document.querySelector(sel);
  const t = (key) => T[S.lang][key] ?? T.en[key] ?? key;
  const words = (w) => (w ? (S.lang === 'en' ? w.en || w.zh : w.zh || w.en) : '');
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
    return node;
  };
  const when = (at) => new Date(at).toLocaleString(S.lang === 'zh' ? 'zh-CN' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' });
  const key = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

  function notice(text, bad) {
    const n = $('#notice');
    n.textContent = text;
    n.hidden = !text;
    n.dataset.bad = bad ? '1' : '';
  }

  // An API refusal in the page's language: the server's sentence, with a
  // short lead-in for the codes this page knows.
  function refusal(body) {
    const e = (body && body.error) || {};
    const lead = T[S.lang]['err_' + e.code];
    return lead ? lead + '：' + (e.message || '') : e.message || String(e.code || 'error');
  }

  async function api(method, path, body, headers) {
    const h = Object.assign({}, headers || {});
    if (S.token) h.Authorization = 'Bearer ' + S.token;
    if (body !== undefined && !(body instanceof Blob)) h['Content-Type'] = 'application/json';
    const init = { method, headers: h };
    if (body !== undefined) init.body = body instanceof Blob ? body : JSON.stringify(body);
    const response = await fetch(path, init);
    const json = await response.json().catch(() => null);
    if (response.status === 401 && S.token) keepToken('');
    return { status: response.status, ok: response.ok, json };
  }

  function keepToken(token) {
    S.token = token;
    if (token) localStorage.setItem('gridloop.resident', token);
    else localStorage.removeItem('gridloop.resident');
  }

  function applyLanguage() {
    document.documentElement.lang = S.lang === 'zh' ? 'zh-CN' : 'en';
    document.querySelectorAll('[data-t]').forEach((node) => { node.textContent = t(node.dataset.t); });
    $('#lang').textContent = t('lang_other');
    $('#lang').lang = S.lang === 'zh' ? 'en' : 'zh-CN';
  }

  // ---- Order ----
  function showLink(link) {
    if (!link) return [];
    keepToken(link.token);
    const url = location.origin + link.link;
    return [el('p', {}, t('keep_link')), el('p', {}, el('a', { href: link.link, id: 'my-link', 'data-test': 'my-link' }, url))];
  }

  function done(answer) {
    const box = $('#done');
    box.replaceChildren();
    if (answer.ticket) {
      box.append(el('p', { 'data-test': 'sent' }, t('sent'),
        el('a', { href: '/r/t/' + answer.ticket, id: 'sent-ticket', 'data-test': 'sent-ticket' }, answer.ticket)));
    }
    box.append(...showLink(answer.link));
    if (answer.known_phone) box.append(el('p', { 'data-test': 'known-phone' }, t('known_phone')));
    box.hidden = false;
    $('#order').hidden = true;
    $('#confirm').hidden = true;
  }

  async function loadCatalog() {
    const { ok, json } = await api('GET', '/api/v1/resident/catalog');
    if (!ok) return notice(refusal(json), true);
    const box = $('#items');
    box.replaceChildren(...json.map((c) => el('fieldset', { 'data-category': c.code },
      el('legend', {}, S.lang === 'en' ? c.name_en || c.name : c.name),
      c.items.map((i) => el('label', { 'data-search': (i.code + ' ' + i.name + ' ' + i.name_en).toLowerCase() },
        el('input', { type: 'radio', name: 'item', value: i.code, 'data-test': 'item-' + i.code }),
        el('span', {}, S.lang === 'en' ? i.name_en || i.name : i.name))))));
  }

  function filterItems() {
    const q = $('#search').value.trim().toLowerCase();
    document.querySelectorAll('#items label').forEach((l) => { l.hidden = q && !l.dataset.search.includes(q); });
    document.querySelectorAll('#items fieldset').forEach((f) => {
      f.hidden = !Array.from(f.querySelectorAll('label')).some((l) => !l.hidden);
    });
  }

  async function setPlace(query) {
    const { ok, json } = await api('GET', '/api/v1/resident/place?' + new URLSearchParams(query));
    if (!ok) return notice(refusal(json), true);
    S.grid = json.grid;
    const name = $('#place-name');
    name.dataset.grid = json.grid;
    name.textContent = t('place_found') + (S.lang === 'en' ? json.name_en || json.name : json.name);
    notice('');
    showAlready();
  }

  async function showAlready() {
    const box = $('#already');
    if (!S.grid || !S.item) { box.hidden = true; return; }
    const { ok, json } = await api('GET', '/api/v1/resident/open?' + new URLSearchParams({ grid: S.grid, item: S.item }));
    if (!ok || !json.length) { box.hidden = true; return; }
    box.replaceChildren(el('p', {}, t('already')), el('ul', {}, json.map((o) => el('li', {},
      o.id + ' · ' + words(o.status_text) + ' ',
      el('button', { type: 'button', 'data-follow': o.id, 'data-test': 'follow-' + o.id }, t('follow'))))));
    box.hidden = false;
  }

  function contact() {
    return { name: $('#name').value, phone: $('#phone').value, email: $('#email').value };
  }

  async function follow(id) {
    const body = S.token ? {} : contact();
    const { ok, status, json } = await api('POST', '/api/v1/resident/follow/' + encodeURIComponent(id), body, { 'Idempotency-Key': key() });
    if (!ok) return notice(refusal(json), true);
    if (status === 202) return held(json);
    notice(t('followed'));
    done(Object.assign({ ticket: id }, json));
  }

  async function uploadPhotos() {
    const files = Array.from($('#photos').files || []).slice(0, 3);
    const hashes = [];
    for (const file of files) {
      const { ok, json } = await api('POST', '/api/v1/resident/photos', file);
      if (!ok) throw new Error(refusal(json));
      hashes.push(json.hash);
    }
    return hashes;
  }

  function held(answer) {
    S.held = answer.held;
    $('#confirm').hidden = false;
    notice(t('held'));
  }

  async function send(event) {
    event.preventDefault();
    if (!S.grid) return notice(t('no_place'), true);
    const item = document.querySelector('#items input:checked');
    if (!item) return notice(t('no_item'), true);
    const button = $('#send');
    button.disabled = true;
    try {
      const photos = await uploadPhotos();
      const urgency = document.querySelector('input[name=urgency]:checked').value;
      const body = Object.assign({ item: item.value, grid: S.grid, description: $('#description').value, urgency, photos,
        from_qr: document.body.dataset.qr === '1' }, S.token ? {} : contact());
      const { ok, status, json } = await api('POST', '/api/v1/resident/orders', body, { 'Idempotency-Key': S.orderKey });
      if (!ok) return notice(refusal(json), true);
      notice('');
      if (status === 202) held(json); else done(json);
    } catch (e) {
      notice(e.message, true);
    } finally {
      button.disabled = false;
    }
  }

  async function confirmHeld() {
    const path = '/api/v1/resident/orders/' + encodeURIComponent(S.held) + '/confirm';
    const { ok, json } = await api('POST', path, { code: $('#code').value.trim() }, { 'Idempotency-Key': S.orderKey });
    if (!ok) return notice(refusal(json), true);
    notice('');
    done(json);
  }

  function orderPage() {
    S.grid = document.body.dataset.grid || '';
    S.orderKey = key();
    if (S.token) $('#contact').hidden = true;
    loadCatalog();
    $('#search').addEventListener('input', filterItems);
    $('#items').addEventListener('change', (e) => { S.item = e.target.value; showAlready(); });
    $('#already').addEventListener('click', (e) => { if (e.target.dataset.follow) follow(e.target.dataset.follow); });
    $('#order').addEventListener('submit', send);
    $('#confirm-send').addEventListener('click', confirmHeld);
    const locate = $('#locate');
    if (locate) {
      locate.addEventListener('click', () => navigator.geolocation.getCurrentPosition(
        (p) => setPlace({ lon: Math.round(p.coords.longitude * 1e6), lat: Math.round(p.coords.latitude * 1e6) }),
        (e) => notice(e.message, true), { enableHighAccuracy: true, timeout: 15000 }));
      $('#find').addEventListener('click', () => setPlace({ address: $('#address').value }));
    }
  }

  // ---- My requests ----
  async function minePage() {
    $('#link-ask').addEventListener('click', async () => {
      const { ok, json } = await api('POST', '/api/v1/resident/codes', { phone: $('#link-phone').value });
      notice(ok ? t('code_asked') : refusal(json), !ok);
    });
    $('#link-go').addEventListener('click', async () => {
      const { ok, json } = await api('POST', '/api/v1/resident/link', { phone: $('#link-phone').value, code: $('#link-code').value.trim() });
      if (!ok) return notice(refusal(json), true);
      keepToken(json.token);
      location.replace('/r/me');
    });
    $('#link-new').addEventListener('click', async () => {
      const { ok, json } = await api('POST', '/api/v1/resident/links');
      if (!ok) return notice(refusal(json), true);
      $('#link-made').replaceChildren(el('a', { href: json.link }, location.origin + json.link));
      loadLinks();
    });
    if (!S.token) { $('#link-device').hidden = false; return; }
    const { ok, json } = await api('GET', '/api/v1/resident/requests');
    if (!ok) { $('#link-device').hidden = false; return notice(refusal(json), true); }
    const list = $('#requests');
    list.replaceChildren(...(json.length ? json.map((r) => el('li', {},
      el('a', { href: '/r/t/' + r.id, 'data-test': 'request-' + r.id }, r.id + ' · ' + words(r.item)),
      el('span', { class: 'status', 'data-status': r.status }, words(r.status_text)))) : [el('li', {}, t('none_yet'))]));
    loadLinks();
  }

  async function loadLinks() {
    const { ok, json } = await api('GET', '/api/v1/resident/me');
    if (!ok) return;
    $('#link-list').replaceChildren(...json.links.map((l) => el('li', {}, when(l.created_at) + (l.current ? t('current') : '') + ' ',
      el('button', { type: 'button', 'data-revoke': l.id, 'data-test': 'revoke-' + l.id }, t('revoke')))));
    $('#links').hidden = false;
    $('#link-list').onclick = async (e) => {
      const id = e.target.dataset.revoke;
      if (!id) return;
      await api('DELETE', '/api/v1/resident/links/' + encodeURIComponent(id));
      if (!S.token) location.replace('/r/me'); else loadLinks();
    };
  }

  // ---- One ticket ----
  async function photo(id, hash) {
    const response = await fetch('/api/v1/resident/tickets/' + id + '/photos/' + hash, { headers: { Authorization: 'Bearer ' + S.token } });
    if (!response.ok) return null;
    return el('img', { src: URL.createObjectURL(await response.blob()), alt: '', 'data-test': 'result-photo' });
  }

  async function ticketPage() {
    const id = document.body.dataset.ticket;
    const { ok, json } = await api('GET', '/api/v1/resident/tickets/' + encodeURIComponent(id));
    if (!ok) return notice(refusal(json), true);
    const v = json;
    $('#status').textContent = words(v.status_text);
    $('#status').dataset.status = v.status;
    $('#due').replaceChildren(...v.due.map((d) => el('p', { 'data-kind': d.kind }, words(d.text) + ' ' + when(d.at))));
    $('#timeline').replaceChildren(...v.timeline.map((s) => el('li', { 'data-kind': s.kind },
      el('time', { datetime: s.at }, when(s.at)), ' ', words(s.text))));
    if (v.result) {
      $('#result').replaceChildren(el('h2', {}, t('result')), el('p', { 'data-test': 'result-text' }, v.result));
      $('#result').hidden = false;
    }
    const images = (await Promise.all(v.result_photos.map((h) => photo(id, h)))).filter(Boolean);
    $('#photos-after').replaceChildren(...images);
    $('#photos-after').hidden = !images.length;
    $('#notices').replaceChildren(...v.notices.map((n) => el('li', { 'data-kind': n.kind }, when(n.at) + ' ' + n.text)));
    $('#feedback').hidden = !v.feedback_open;
  }

  async function rate(event) {
    event.preventDefault();
    const id = document.body.dataset.ticket;
    const rating = document.querySelector('input[name=rating]:checked');
    if (!rating) return;
    const body = { rating: rating.value, comment: $('#comment').value };
    const { ok, json } = await api('POST', '/api/v1/tickets/' + encodeURIComponent(id) + '/feedback', body, { 'Idempotency-Key': key() });
    if (!ok) return notice(refusal(json), true);
    notice(t('thanks'));
    ticketPage();
  }

  function start() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get('k')) {
      keepToken(fragment.get('k'));
      history.replaceState(null, '', location.pathname);
    }
    applyLanguage();
    $('#lang').addEventListener('click', () => {
      S.lang = S.lang === 'zh' ? 'en' : 'zh';
      localStorage.setItem('gridloop.lang', S.lang);
      applyLanguage();
      // Lists carry words from the server in both languages: draw them again.
      const page = document.body.dataset.page;
      if (page === 'order') loadCatalog();
      else location.reload();
    });
    const page = document.body.dataset.page;
    if (page === 'order') orderPage();
    if (page === 'mine') minePage();
    if (page === 'ticket') { $('#feedback').addEventListener('submit', rate); ticketPage(); }
  }
  document.addEventListener('DOMContentLoaded', start);
})();
