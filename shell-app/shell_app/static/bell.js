// The notification bell: a WebSocket to the notification hub (authenticated by the HttpOnly cookie).
// Each notification is listed, counted as unread, announced to screen readers, and announced to the
// micro-frontends as the `order:updated` event on <body>, so fragments that listen for it refresh.
// The ids of the notifications shown, and the newest one's time, are kept in localStorage: on every
// (re)connect the page asks the hub for what it may have missed since, and shows each notification once.
(function () {
  "use strict";
  const bell = document.getElementById("shell-bell");
  if (!bell) return;  // anonymous visitor: no bell
  const button = bell.querySelector(".shell_bell-button");
  const panel = document.getElementById("shell-bell-panel");
  const list = document.getElementById("shell-bell-list");
  const count = document.getElementById("shell-bell-count");
  const empty = panel.querySelector(".shell_bell-empty");
  const live = document.getElementById("shell-bell-live");
  const storeKey = "festflow_bell:" + (document.body.dataset.user || "");
  const stored = load();
  const seen = new Set(stored.ids);  // shown on this or an earlier page: never shown twice
  let unread = 0;
  let retry = 500;

  function setUnread(n) {
    unread = n;
    count.textContent = String(n);
    count.hidden = n === 0;
  }

  function setOpen(open, returnFocus) {
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) setUnread(0);
    else if (returnFocus) button.focus();
  }

  button.addEventListener("click", function () { setOpen(panel.hidden, false); });
  // the panel closes on Escape (focus back on the bell) and on a click anywhere outside it
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !panel.hidden) setOpen(false, true);
  });
  document.addEventListener("click", function (e) {
    if (!panel.hidden && !bell.contains(e.target)) setOpen(false, false);
  });

  function load() {
    try {
      const value = JSON.parse(localStorage.getItem(storeKey) || "{}");
      return { ids: Array.isArray(value.ids) ? value.ids : [], last: value.last || null, time: value.time || null };
    } catch (e) {
      return { ids: [], last: null, time: null };  // private mode or a damaged value: no replay
    }
  }

  function remember(note) {
    stored.ids = stored.ids.concat([note.id]).slice(-200);
    if (!stored.time || note.time > stored.time) { stored.time = note.time; stored.last = note.id; }
    try { localStorage.setItem(storeKey, JSON.stringify(stored)); } catch (e) { /* private mode */ }
  }

  function show(note) {
    if (seen.has(note.id)) return;
    seen.add(note.id);
    remember(note);
    const item = document.createElement("li");
    item.className = note.kind.replace(".", "-");
    item.dataset.orderId = note.order_id;
    const title = document.createElement("strong");
    title.textContent = note.title;
    const text = document.createElement("div");
    text.textContent = note.message;
    const small = document.createElement("small");
    small.textContent = "Order " + note.order_id.slice(0, 8) + " · " + new Date(note.time).toLocaleTimeString();
    item.append(title, text, small);
    list.prepend(item);
    empty.hidden = true;
    setUnread(unread + 1);
    live.textContent = note.title + ": " + note.message;
    document.body.dispatchEvent(new CustomEvent("order:updated", { bubbles: true, detail: note }));
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws/notifications");
    ws.onopen = function () {
      retry = 500;
      ws.send(JSON.stringify({ kind: "resume", last_event_id: stored.last, last_event_time: stored.time }));
      bell.dataset.connected = "true";
    };
    ws.onmessage = function (msg) {
      const note = JSON.parse(msg.data);
      if (note.kind === "hello") return;
      show(note);
    };
    ws.onclose = function (ev) {
      bell.dataset.connected = "false";
      if (ev.code === 4401) return;  // not logged in any more
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }
  connect();
})();
