// A notice for any HTMX action that failed (an error answer or no answer at all), so that nothing
// a buyer or organiser does can fail silently. Fragments say what went wrong in place when they can;
// this is the last word when they cannot.
(function () {
  "use strict";
  const notice = document.getElementById("shell-notice");
  if (!notice) return;
  const text = notice.querySelector(".shell_notice-text");
  let timer = null;

  function show(message) {
    text.textContent = message;
    notice.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(function () { notice.hidden = true; }, 12000);
  }

  notice.querySelector(".shell_notice-close").addEventListener("click", function () { notice.hidden = true; });
  document.body.addEventListener("htmx:responseError", function (ev) {
    const status = ev.detail.xhr ? ev.detail.xhr.status : 0;
    show(status === 429 ? "Too many requests right now; please wait a moment and try again."
      : "That did not work (error " + status + "). Nothing was lost; please try again.");
  });
  document.body.addEventListener("htmx:sendError", function () {
    show("FestFlow cannot be reached right now. Check your connection and try again.");
  });
  document.body.addEventListener("htmx:timeout", function () {
    show("FestFlow is taking too long to answer; please try again in a moment.");
  });
})();
