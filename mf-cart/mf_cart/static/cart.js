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
  // the time left to pay, counted down each second (the server wrote the first value)
  function timeLeft(until) {
    let seconds = Math.floor((until - Date.now()) / 1000);
    if (seconds <= 0) return "time is up";
    const days = Math.floor(seconds / 86400); seconds -= days * 86400;
    const hours = Math.floor(seconds / 3600); seconds -= hours * 3600;
    const minutes = Math.floor(seconds / 60); seconds -= minutes * 60;
    if (days) return days + (days === 1 ? " day " : " days ") + hours + " h left";
    if (hours) return hours + " h " + minutes + " min left";
    return minutes + " min " + String(seconds).padStart(2, "0") + " s left";
  }
  function countdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      const until = new Date(el.getAttribute("data-countdown")).getTime();
      if (!isNaN(until)) el.textContent = timeLeft(until);
    });
  }
  setInterval(countdowns, 1000);
  document.addEventListener("DOMContentLoaded", localTimes);
  document.body.addEventListener("htmx:afterSwap", function () {
    localTimes();
    countdowns();
    const outcome = document.querySelector('#cart-outcome[data-focus="true"]');
    if (outcome) {
      outcome.removeAttribute("data-focus");
      outcome.focus();
    }
  });
})();
