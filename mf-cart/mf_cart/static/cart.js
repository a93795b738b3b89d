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
  // The card form: Stripe's own script (it must come from js.stripe.com) shows it and authorises the card
  // for the order's PaymentIntent; Stripe then sends the buyer back to the order's page.
  const STRIPE_JS = "https://js.stripe.com/v3/";
  let stripeLoading = null;
  function loadStripe() {
    if (window.Stripe) return Promise.resolve(window.Stripe);
    if (!stripeLoading) {
      stripeLoading = new Promise(function (resolve, reject) {
        const script = document.createElement("script");
        script.src = STRIPE_JS;
        script.onload = function () { window.Stripe ? resolve(window.Stripe) : reject(new Error("no Stripe")); };
        script.onerror = function () { stripeLoading = null; reject(new Error("unreachable")); };
        document.head.appendChild(script);
      });
    }
    return stripeLoading;
  }
  function cardForms() {
    document.querySelectorAll("form[data-client-secret]:not([data-mounted])").forEach(function (form) {
      form.dataset.mounted = "true";
      const error = form.querySelector("[data-card-error]");
      const button = form.querySelector("button[type=submit]");
      function say(text) { error.textContent = text; error.hidden = false; }
      loadStripe().then(function (Stripe) {
        const stripe = Stripe(form.dataset.stripeKey);
        const elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
        const loading = form.querySelector("[data-card-loading]");
        if (loading) loading.remove();
        elements.create("payment").mount(form.querySelector("[data-card-element]"));
        button.disabled = false;
        form.addEventListener("submit", function (event) {
          event.preventDefault();
          button.disabled = true;
          const back = new URL(form.dataset.returnUrl, window.location.href).href;
          stripe.confirmPayment({ elements: elements, confirmParams: { return_url: back } }).then(function (result) {
            if (result.error) { say(result.error.message); button.disabled = false; }
          });
        });
      }, function () {
        const loading = form.querySelector("[data-card-loading]");
        if (loading) loading.remove();
        say("Stripe's card form could not be loaded. Check your connection and reload the page, or pay by bank transfer.");
      });
    });
  }
  // The waiting room: where the buyer is, heard live from the waiting room (server-sent events). The place and
  // the number ahead are rewritten in place; a new state (their turn, sold out) fetches the page's fragment
  // anew. While the stream is live, the fragment's own polling (the fallback) is held back.
  let waitingStream = null;
  let refreshWanted = false;
  function aheadText(n) {
    return n === 0 ? "You are next." : n === 1 ? "1 buyer is ahead of you." : n + " buyers are ahead of you.";
  }
  function estimateText(s) {
    if (!s) return "";
    if (s < 90) return "About " + s + (s === 1 ? " second" : " seconds") + ", if the sale keeps its pace.";
    const m = Math.round(s / 60);
    return "About " + m + (m === 1 ? " minute" : " minutes") + ", if the sale keeps its pace.";
  }
  function waitingLive() {
    const section = document.getElementById("waiting-room");
    if (!section || !section.dataset.stream || waitingStream || !window.EventSource || !window.htmx) return;
    waitingStream = new EventSource(section.dataset.stream);
    waitingStream.addEventListener("open", function () { document.body.dataset.waitingLive = "true"; });
    waitingStream.addEventListener("error", function () { delete document.body.dataset.waitingLive; });
    waitingStream.addEventListener("standing", function (msg) {
      const now = JSON.parse(msg.data);
      const current = document.getElementById("waiting-room");
      if (!current) return;
      if (now.state !== current.dataset.state) {
        refreshWanted = true;
        window.htmx.ajax("GET", "/cart/fragments/v1/waiting-room", { target: "#waiting-room", swap: "outerHTML" });
        return;
      }
      if (now.state !== "waiting") return;
      const place = current.querySelector('[data-role="place"]');
      const ahead = current.querySelector('[data-role="ahead"]');
      const estimate = current.querySelector('[data-role="estimate"]');
      if (place) place.textContent = String(now.position);
      if (ahead) ahead.textContent = aheadText(now.ahead);
      if (estimate) estimate.textContent = estimateText(now.eta_seconds);
    });
  }
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    const elt = event.detail && event.detail.elt;
    if (!elt || elt.id !== "waiting-room" || !document.body.dataset.waitingLive) return;
    if (refreshWanted) { refreshWanted = false; return; }
    if (event.detail.requestConfig && event.detail.requestConfig.verb === "get") event.preventDefault();
  });
  setInterval(countdowns, 1000);
  document.addEventListener("DOMContentLoaded", localTimes);
  document.addEventListener("DOMContentLoaded", waitingLive);
  document.body.addEventListener("htmx:afterSwap", function () {
    localTimes();
    countdowns();
    cardForms();
    waitingLive();
    const outcome = document.querySelector('#cart-outcome[data-focus="true"]');
    if (outcome) {
      outcome.removeAttribute("data-focus");
      outcome.focus();
    }
  });
})();
