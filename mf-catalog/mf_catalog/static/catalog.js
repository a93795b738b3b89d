// Live stock: one EventSource per page; each update rewrites the stock (and price) shown for a ticket.
// Sale windows: the times are shown in the buyer's own time zone, with a countdown; when a window opens
// or closes the list re-renders (the server decides what is on sale).
(function () {
  "use strict";

  function refresh(eventName) {
    document.body.dispatchEvent(new CustomEvent(eventName, { bubbles: true }));
  }

  if (window.EventSource) {
    const source = new EventSource("/catalog/sse/stock");
    source.addEventListener("ready", function () { document.body.dataset.catalogLive = "true"; });
    source.addEventListener("stock", function (msg) {
      const update = JSON.parse(msg.data);
      if (update.festival) { refresh("festival:changed"); return; }
      if (update.reload) { refresh("catalog:changed"); return; }  // price, name or availability changed
      update.tickets.forEach(function (t) {
        document.querySelectorAll('.catalog [data-ticket-id="' + t.ticket_id + '"] [data-role="stock"]').forEach(function (el) {
          el.textContent = String(t.stock);
        });
      });
    });
  }

  function left(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    const pad = function (n) { return String(n).padStart(2, "0"); };
    return (d ? d + " d " : "") + pad(h) + ":" + pad(m) + ":" + pad(s % 60);
  }

  function localTimes() {
    document.querySelectorAll(".catalog_sale time[datetime]:not([data-local])").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      el.textContent = when.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
      el.dataset.local = "true";
    });
  }

  function tick() {
    localTimes();
    const now = Date.now();
    let crossed = false;
    document.querySelectorAll("[data-sale-opens], [data-sale-ends]").forEach(function (el) {
      const opens = el.dataset.saleOpens, at = new Date(opens || el.dataset.saleEnds).getTime();
      const countdown = el.querySelector(".catalog_countdown");
      if (at <= now) { crossed = true; return; }
      if (countdown && at - now < 7 * 86400000) countdown.textContent = (opens ? "(in " : "(ends in ") + left(at - now) + ")";
    });
    if (crossed) refresh("catalog:changed");
  }

  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", localTimes);
  setInterval(tick, 1000);
})();
