// The notification bell: a WebSocket to the notification hub (authenticated by the HttpOnly cookie).
// Each notification is listed, counted as unread, announced to screen readers, and announced to the
// micro-frontends as the `order:updated` event on <body>, so fragments that listen for it refresh.
// The id of the last notification seen is kept in localStorage: on every (re)connect the page asks the
// hub for what it missed since, and a notification that arrives twice is shown once.
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
  const lastKey = "festflow_bell_last:" + (document.body.dataset.user || "");
  const seen = new Set();
  let unread = 0;
  let retry = 500;

  function setUnread(n) {
    unread = n;
    count.textContent = String(n);
    count.hidden = n === 0;
  }

  button.addEventListener("click", function () {
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) setUnread(0);
  });

  function show(note) {
    if (seen.has(note.id)) return;
    seen.add(note.id);
    try { localStorage.setItem(lastKey, note.id); } catch (e) { /* private mode: no replay */ }
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
      let last = null;
      try { last = localStorage.getItem(lastKey); } catch (e) { /* private mode */ }
      ws.send(JSON.stringify({ kind: "resume", last_event_id: last }));
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
