// After a checkout the buyer's focus goes to the cart's outcome (what happened to the order).
// Times of orders are sent in UTC and shown here in the buyer's own time zone.
(function () {
  "use strict";
  function localTimes() {
    document.querySelectorAll("time[data-local]:not([data-shown])").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      el.textContent = when.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
      el.title = el.getAttribute("datetime");
      el.dataset.shown = "true";
    });
  }
  document.addEventListener("DOMContentLoaded", localTimes);
  document.body.addEventListener("htmx:afterSwap", function () {
    localTimes();
    const outcome = document.querySelector('#cart-outcome[data-focus="true"]');
    if (outcome) {
      outcome.removeAttribute("data-focus");
      outcome.focus();
    }
  });
})();
