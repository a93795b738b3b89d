// The gate's scanner: camera frames are decoded in the page with jsQR; each code read goes to the
// ticketing API (POST /api/checkin/scan) and the answer is shown large. A code is sent once while it
// stays in view; the gate's name and its count are kept in this browser (localStorage).
(function () {
  "use strict";
  const root = document.getElementById("gate-scanner");
  const video = document.getElementById("gate-video");
  if (!root || !video) return;  // not allowed: no scanner
  const canvas = document.getElementById("gate-canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const result = document.getElementById("gate-result");
  const verdict = document.getElementById("gate-verdict");
  const who = document.getElementById("gate-who");
  const count = document.getElementById("gate-count");
  const state = document.getElementById("gate-camera-state");
  const gateName = document.getElementById("gate-name");
  const gateInput = document.getElementById("gate-input");
  let gate = localStorage.getItem("festflow_gate") || gateInput.value;
  let last = "", lastAt = 0, busy = false;

  function countKey() { return "festflow_gate_count:" + gate; }
  function showGate() {
    gateName.textContent = gate;
    gateInput.value = gate;
    count.textContent = localStorage.getItem(countKey()) || "0";
  }
  showGate();

  function show(kind, title, detail) {
    result.hidden = false;
    result.dataset.result = kind;
    verdict.textContent = title;
    who.textContent = detail;
  }

  async function checkIn(code) {
    if (busy) return;
    busy = true;
    try {
      const resp = await fetch("/api/checkin/scan", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code: code, gate: gate }),
      });
      let body = {};
      try { body = await resp.json(); } catch (e) { /* not JSON: the status says it */ }
      const person = [body.holder, body.name].filter(Boolean).join(" · ");
      if (resp.status === 200) {
        const n = Number(localStorage.getItem(countKey()) || "0") + 1;
        localStorage.setItem(countKey(), String(n));
        count.textContent = String(n);
        show("admitted", "ADMITTED", person);
      } else if (resp.status === 409) {
        show("refused", "ALREADY USED", "at " + new Date(body.at).toLocaleTimeString() + ", gate " + body.gate + (person ? " · " + person : ""));
      } else if (resp.status === 410) {
        show("refused", "VOID", "its order was cancelled" + (person ? " · " + person : ""));
      } else if (resp.status === 404) {
        show("refused", "UNKNOWN TICKET", "no ticket has this code");
      } else if (resp.status === 422) {
        show("refused", "NOT GENUINE", body.detail || "the signature does not verify");
      } else if (resp.status === 401 || resp.status === 403) {
        show("refused", "NOT ALLOWED", "log in again with a gate staff account");
      } else {
        show("refused", "TRY AGAIN", "the check-in service did not answer (" + resp.status + ")");
      }
    } catch (e) {
      show("refused", "NO CONNECTION", "scan again when the network is back");
    } finally {
      busy = false;
    }
  }

  function tick() {
    if (video.readyState === video.HAVE_ENOUGH_DATA && window.jsQR) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      const now = Date.now();
      if (code && code.data && (code.data !== last || now - lastAt > 4000)) {
        last = code.data;
        lastAt = now;
        checkIn(code.data);
      }
    }
    requestAnimationFrame(tick);
  }

  document.getElementById("gate-start").addEventListener("click", async function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      state.textContent = "This browser has no camera access: type the code below.";
      return;
    }
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      await video.play();
      state.textContent = "Scanning: hold a ticket's QR code in view.";
      root.dataset.camera = "on";
      requestAnimationFrame(tick);
    } catch (e) {
      state.textContent = "The camera could not start (" + e.name + "): type the code below.";
    }
  });

  document.getElementById("gate-manual").addEventListener("submit", function (e) {
    e.preventDefault();
    const input = document.getElementById("gate-code");
    if (input.value.trim()) checkIn(input.value.trim());
    input.value = "";
  });

  document.getElementById("gate-settings").addEventListener("submit", function (e) {
    e.preventDefault();
    gate = gateInput.value.trim() || "Main";
    localStorage.setItem("festflow_gate", gate);
    showGate();
  });
})();
