// Live stock: one EventSource per page; each update rewrites the stock (and price) shown for a ticket.
(function () {
  "use strict";
  if (!window.EventSource) return;
  const source = new EventSource("/catalog/sse/stock");
  source.addEventListener("ready", function () { document.body.dataset.catalogLive = "true"; });
  source.addEventListener("stock", function (msg) {
    const update = JSON.parse(msg.data);
    if (update.reload) {  // price, name or availability changed: let the fragment re-render
      document.body.dispatchEvent(new CustomEvent("catalog:changed", { bubbles: true }));
      return;
    }
    update.tickets.forEach(function (t) {
      document.querySelectorAll('.catalog [data-ticket-id="' + t.ticket_id + '"] [data-role="stock"]').forEach(function (el) {
        el.textContent = String(t.stock);
      });
    });
  });
})();
