// mf-admin live parts: dashboard updates over SSE (/admin/sse/updates) and system logs over WebSocket (/ws/logs).
(function () {
  "use strict";
  const LEVELS = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };
  const MAX_ROWS = 300;

  // --- sales, KPIs and STOCK counters ---
  // Bursts of sales are coalesced: one refresh at most every 400 ms, and always one after the last event.
  let refreshTimer = null;
  function refreshSoon(detail) {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      document.body.dispatchEvent(new CustomEvent("admin:changed", { bubbles: true, detail: detail }));
    }, 400);
  }

  if (document.querySelector("#admin-dashboard, #admin-ticket-editor") && window.EventSource) {
    const source = new EventSource("/admin/sse/updates");
    source.addEventListener("ready", function () { document.body.dataset.adminLive = "true"; });
    source.addEventListener("update", function (msg) {
      const update = JSON.parse(msg.data);
      update.tickets.forEach(function (t) {
        document.querySelectorAll('.admin_editor [data-ticket-id="' + t.ticket_id + '"] [data-role="stock"]')
          .forEach(function (el) { el.textContent = String(t.stock); });
      });
      refreshSoon(update);
    });
  }

  // --- system logs ---
  const panel = document.getElementById("admin-logs");
  if (!panel) return;
  const list = document.getElementById("admin-log-list");
  const serviceFilter = document.getElementById("admin-log-service");
  const levelFilter = document.getElementById("admin-log-level");
  const state = panel.querySelector(".admin_logs-state");
  const seen = new Set();
  let retry = 500;

  function visible(row) {
    const service = serviceFilter.value;
    const minLevel = LEVELS[levelFilter.value] || 0;
    return (!service || row.dataset.service === service) && (LEVELS[row.dataset.level] || 0) >= minLevel;
  }

  function applyFilters() {
    list.querySelectorAll("li").forEach(function (row) { row.hidden = !visible(row); });
  }

  function add(record) {
    if (seen.has(record.id)) return;
    seen.add(record.id);
    if (![...serviceFilter.options].some(function (o) { return o.value === record.service; })) {
      serviceFilter.add(new Option(record.service, record.service));
    }
    const row = document.createElement("li");
    row.dataset.service = record.service;
    row.dataset.level = record.level;
    const time = document.createElement("time");
    time.dateTime = record.time;
    time.textContent = record.time.slice(11, 23);
    const service = document.createElement("span");
    service.className = "admin_log-service";
    service.textContent = record.service;
    const level = document.createElement("span");
    level.className = "admin_log-level";
    level.textContent = record.level;
    const message = document.createElement("span");
    message.className = "admin_log-message";
    message.textContent = record.message;
    row.append(time, service, level, message);
    row.hidden = !visible(row);
    list.prepend(row);  // newest first
    while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
  }

  serviceFilter.addEventListener("change", applyFilters);
  levelFilter.addEventListener("change", applyFilters);

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws/logs");
    ws.onopen = function () { retry = 500; panel.dataset.connected = "true"; state.textContent = "live"; };
    ws.onmessage = function (msg) {
      const data = JSON.parse(msg.data);
      if (data.kind === "history") data.records.forEach(add);
      else if (data.kind === "log") add(data.record);
    };
    ws.onclose = function (ev) {
      panel.dataset.connected = "false";
      if (ev.code === 4401 || ev.code === 4403) { state.textContent = "not allowed"; return; }
      state.textContent = "reconnecting…";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }
  connect();
})();
