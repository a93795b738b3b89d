// After a checkout the buyer's focus goes to the cart's outcome (what happened to the order).
(function () {
  "use strict";
  document.body.addEventListener("htmx:afterSwap", function () {
    const outcome = document.querySelector('#cart-outcome[data-focus="true"]');
    if (outcome) {
      outcome.removeAttribute("data-focus");
      outcome.focus();
    }
  });
})();
