// The grid worker's page (/w). It shows what the API answers and holds no
// rule of its own: whether an action is allowed is the server's answer.
//
// Offline: every action is put in a queue in localStorage with the
// Idempotency-Key it was given when the worker took it, then sent in order.
// A send that fails for want of a connection stays queued and is sent again
// when the browser is back online (or on the next page load); the key makes
// the server write it once however often it arrives. A refusal (4xx) leaves
// the queue with its message shown: it would be refused again.
"use strict";

(function () {
  const QUEUE = "gridloop.field.queue";
  const TOKEN = "gridloop.field.token";
  const $ = (id) => document.getElementById(id);
  let sending = false;

  function token() {
    const hash = new URLSearchParams(location.hash.slice(1));
    if (hash.get("token")) {
      localStorage.setItem(TOKEN, hash.get("token"));
      history.replaceState(null, "", location.pathname);
    }
    return localStorage.getItem(TOKEN) || "";
  }

  function queue() {
    try {
      return JSON.parse(localStorage.getItem(QUEUE) || "[]");
    } catch (_) {
      return [];
    }
  }

  function saveQueue(items) {
    localStorage.setItem(QUEUE, JSON.stringify(items));
    showQueue();
  }

  function key() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "w-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function notice(text) {
    const n = $("notice");
    n.textContent = text;
    n.hidden = !text;
  }

  async function api(method, path, body, idempotencyKey) {
    const headers = { Authorization: "Bearer " + token() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    const response = await fetch("/api/v1" + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(answer.message || answer.error || String(response.status));
      error.refused = true;
      throw error;
    }
    return answer;
  }

  // Takes an action: queued first (so nothing is lost if the page closes),
  // then the queue is sent.
  function act(label, path, body) {
    const items = queue();
    items.push({ key: key(), label, path, body, taken: new Date().toISOString() });
    saveQueue(items);
    return flush();
  }

  async function flush() {
    if (sending) return;
    sending = true;
    try {
      for (;;) {
        const items = queue();
        if (items.length === 0) break;
        const item = items[0];
        try {
          const answer = await api("POST", item.path, item.body, item.key);
          saveQueue(queue().filter((i) => i.key !== item.key));
          if (answer && answer.id) notice(item.label + " · " + answer.id + " " + (answer.status || ""));
          else notice(item.label + " ✓");
        } catch (error) {
          if (error.refused) {
            saveQueue(queue().filter((i) => i.key !== item.key));
            notice(item.label + ": " + error.message);
            continue;
          }
          notice("离线，已保存待发送 Offline: saved, will send");
          break;
        }
      }
    } finally {
      sending = false;
    }
    refresh();
  }

  function showQueue() {
    const items = queue();
    $("waiting").hidden = items.length === 0;
    const list = $("queue");
    list.replaceChildren(
      ...items.map((i) => {
        const li = document.createElement("li");
        li.dataset.test = "queued";
        li.textContent = i.label + " · " + i.taken.slice(11, 19);
        return li;
      })
    );
    $("net").textContent = navigator.onLine ? "在线 online" : "离线 offline";
  }

  async function refresh() {
    let me;
    try {
      me = await api("GET", "/me");
    } catch (_) {
      showQueue();
      return;
    }
    $("who").textContent = me.id + " · " + (me.place.name || me.place.code);
    document.body.dataset.place = me.place.code;
    const [patrols, grid, catalog] = await Promise.all([
      api("GET", "/patrols?worker=me"),
      api("GET", "/queues/place/" + encodeURIComponent(me.place.code)),
      $("item").options.length ? null : api("GET", "/catalog"),
    ]).catch(() => [null, null, null]);
    if (catalog) fillItems(catalog);
    if (patrols) showPatrols(patrols.patrols);
    if (grid) showTickets(grid.items);
    showQueue();
  }

  function fillItems(catalog) {
    const items = catalog.items || catalog;
    $("item").replaceChildren(
      ...items
        .filter((i) => i.admitted)
        .map((i) => {
          const o = document.createElement("option");
          o.value = i.code;
          o.textContent = i.code + " " + i.name;
          return o;
        })
    );
  }

  function showPatrols(patrols) {
    const open = patrols.find((p) => !p.ended_at);
    $("patrol-state").textContent = open
      ? "巡查中 On patrol #" + open.patrol + " · " + open.check_ins.length + " 签到"
      : "未在巡查 Not on patrol";
    document.body.dataset.patrol = open ? "open" : "";
    $("patrols").replaceChildren(
      ...patrols.map((p) => {
        const li = document.createElement("li");
        li.dataset.test = "patrol-row";
        li.textContent =
          "#" + p.patrol + " " + p.grid + " · " + p.check_ins.map((c) => c.label + (c.note ? " (" + c.note + ")" : "")).join("; ");
        return li;
      })
    );
  }

  function showTickets(items) {
    $("tickets").replaceChildren(
      ...items.map((t) => {
        const li = document.createElement("li");
        li.dataset.test = "ticket-row";
        li.dataset.ticket = t.id;
        const next = t.next_deadline;
        li.textContent = t.id + " · " + t.status + (t.overdue ? " · 超期 overdue" : "") + (next ? " · " + next.kind + " " + next.at : "");
        return li;
      })
    );
  }

  async function uploadAfterPhoto() {
    const file = $("after").files[0];
    if (!file) return [];
    const response = await fetch("/api/v1/photos", {
      method: "POST",
      headers: { Authorization: "Bearer " + token(), "Content-Type": file.type },
      body: file,
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.message || "photo");
    return [answer.hash];
  }

  function found() {
    return {
      category: $("item").value,
      grid: document.body.dataset.place,
      description: $("what").value,
    };
  }

  function wire() {
    $("start").addEventListener("click", () => act("开始巡查 start", "/patrols/start", document.body.dataset.place ? { grid: document.body.dataset.place } : {}));
    $("end").addEventListener("click", () => act("结束巡查 end", "/patrols/end", { note: "" }));
    $("checkin").addEventListener("submit", (e) => {
      e.preventDefault();
      act("签到 " + $("label").value, "/patrols/check-in", { kind: $("kind").value, label: $("label").value, note: $("note").value });
      $("label").value = "";
      $("note").value = "";
    });
    $("on-spot").addEventListener("click", async () => {
      let photos = [];
      try {
        photos = await uploadAfterPhoto();
      } catch (error) {
        notice("照片未上传 photo not sent: " + error.message);
      }
      act("巡办合一 on the spot", "/field/found", { ...found(), result: $("result").value, minutes_spent: 10, result_photos: photos });
    });
    $("report").addEventListener("click", () => act("上报 report", "/field/found", found()));
    $("for-resident").addEventListener("click", () =>
      act("代下单 for " + $("resident").value, "/tickets", {
        category: $("item").value,
        grid: document.body.dataset.place,
        description: $("what").value,
        resident: $("resident").value,
      })
    );
    window.addEventListener("online", flush);
    window.addEventListener("offline", showQueue);
    // Emulated or flaky networks do not always say when they return.
    setInterval(() => {
      if (queue().length) flush();
    }, 2000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    token();
    wire();
    showQueue();
    flush();
  });
})();
