// The weekly pages: the ranking (通报) and a grid head's weekly report
// (周报告). The page is a shell: this script fetches the HTML fragment the
// API renders, with the token the console keeps in this tab
// (sessionStorage 'gridloop.token'), and posts a head's narrative. The
// query string (?week=2026-W49&by=street, ?grid=CODE&week=2026-W49) fills
// the controls, so a page can be linked and printed.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const page = document.body.dataset.page;
  const query = new URLSearchParams(location.search);
  const token = () => $('token').value.trim();
  $('token').value = sessionStorage.getItem('gridloop.token') || '';
  for (const key of ['week', 'by', 'grid']) {
    if ($(key) && query.get(key)) $(key).value = query.get(key);
  }

  const fail = (text) => { $('error').textContent = text; };
  const headers = () => ({ Authorization: 'Bearer ' + token() });
  const refusal = async (answer) => {
    try {
      const body = await answer.json();
      return body.error ? body.error.code + ': ' + body.error.message : String(answer.status);
    } catch (_) {
      return String(answer.status);
    }
  };
  const enc = encodeURIComponent;

  const url = (format) => {
    if (page === 'ranking') {
      const q = new URLSearchParams({ by: $('by').value, format });
      if ($('week').value.trim()) q.set('week', $('week').value.trim());
      return '/api/v1/reports/ranking?' + q;
    }
    return '/api/v1/reports/weekly/' + enc($('grid').value.trim()) + '/' + enc($('week').value.trim()) + '?format=' + format;
  };

  const show = async () => {
    fail('');
    sessionStorage.setItem('gridloop.token', token());
    const answer = await fetch(url('html'), { headers: headers() });
    if (!answer.ok) {
      $('content').textContent = '';
      fail(await refusal(answer));
      return;
    }
    // The fragment is rendered by the server with every piece of text
    // escaped (maud); it holds no script.
    $('content').innerHTML = await answer.text();
    document.body.dataset.loaded = '1';
    if ($('submit')) $('submit').hidden = false;
  };

  const csv = async () => {
    fail('');
    const answer = await fetch(url('csv'), { headers: headers() });
    if (!answer.ok) { fail(await refusal(answer)); return; }
    const link = document.createElement('a');
    link.href = URL.createObjectURL(await answer.blob());
    link.download = 'ranking-' + ($('week').value.trim() || 'last') + '-' + $('by').value + '.csv';
    link.click();
  };

  const send = async () => {
    fail('');
    const path = '/api/v1/reports/weekly/' + enc($('grid').value.trim()) + '/' + enc($('week').value.trim());
    const key = 'weekly-' + Date.now() + '-' + Math.random().toString(16).slice(2);
    const answer = await fetch(path, {
      method: 'POST',
      headers: { ...headers(), 'Content-Type': 'application/json', 'Idempotency-Key': key },
      body: JSON.stringify({ narrative: $('narrative').value }),
    });
    if (!answer.ok) { fail(await refusal(answer)); return; }
    $('sent').textContent = '已提交 Submitted';
    await show();
  };

  $('show').addEventListener('click', show);
  $('print').addEventListener('click', () => window.print());
  if ($('csv')) $('csv').addEventListener('click', csv);
  if ($('send')) $('send').addEventListener('click', send);
  if (token() && (page === 'ranking' || ($('grid').value && $('week').value))) show();
})();
