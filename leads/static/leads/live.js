// Live leads (leads/admin/live.py): poll the small JSON answer every second; when a lead arrives or changes hands,
// fetch this page again and swap in its list (or the team board), and tell the user of a lead newly theirs with a
// notification and a short tone, once they have allowed notifications.
(function () {
  "use strict";
  var script = document.currentScript;
  var liveUrl = script.dataset.liveUrl;
  var renderedAt = Number(script.dataset.renderedAt || 0);
  var target = document.querySelector(script.dataset.target);  // what to swap: the list's results, or the board
  var seen = new Set();
  var cursor = null;
  var audio = null;

  function tone() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.6);
    } catch (e) { /* no sound here: the notification still shows */ }
  }

  function announce(lead) {
    var text = (lead.repeat_buyer ? "Repeat buyer: " : "") + lead.name + (lead.car_model ? ", " + lead.car_model : "");
    var status = document.getElementById("live-status");
    if (status) { status.textContent = "New lead for you: " + text; }
    if (!("Notification" in window) || Notification.permission !== "granted") { return; }
    var note = new Notification("New lead: " + lead.name, {body: text + " (" + lead.platform + ")", tag: "lead-" + lead.id});
    note.onclick = function () { window.focus(); window.location.href = lead.url; };
    tone();
  }

  function refresh() {
    if (!target) { return Promise.resolve(); }
    // Rows someone ticked for an action stay as they are until the page is used; the banner says what came.
    if (document.querySelector("#result_list input.action-select:checked")) { return Promise.resolve(); }
    var url = new URL(window.location.href);
    if (script.dataset.part) { url.searchParams.set("part", script.dataset.part); }
    return fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "live"}}).then(function (response) {
      if (!response.ok) { return; }
      return response.text().then(function (html) {
        // Only the part between the markers is parsed: the whole page's <style> tags carry that response's nonce,
        // which this page's Content-Security-Policy would refuse.
        var start = html.indexOf("<!--live-->"), end = html.indexOf("<!--/live-->");
        if (start < 0 || end < start) { return; }
        var fresh = document.createElement("template");
        fresh.innerHTML = html.slice(start, end);
        var part = script.dataset.part ? fresh.content : fresh.content.querySelector(script.dataset.target);
        if (part) { target.replaceChildren.apply(target, Array.from(part.childNodes)); }
      });
    });
  }

  function poll() {
    var url = liveUrl + (cursor === null ? "" : "?since=" + cursor);
    fetch(url, {credentials: "same-origin"}).then(function (response) {
      if (!response.ok) { throw new Error(response.status); }
      return response.json();
    }).then(function (answer) {
      var first = cursor === null;
      cursor = answer.cursor;
      var fresh = answer.leads.filter(function (lead) {
        if (seen.has(lead.event)) { return false; }
        seen.add(lead.event);
        return !first || lead.at > renderedAt - 2;  // the first answer holds lines the page may show already
      });
      if (!fresh.length) { return; }
      fresh.forEach(function (lead) { if (lead.mine) { announce(lead); } });
      return refresh();
    }).catch(function () { /* signed out or offline: try again on the next tick */ }).then(function () {
      window.setTimeout(poll, 1000);
    });
  }

  var button = document.getElementById("live-notify");
  if (button && "Notification" in window && Notification.permission === "default") {
    button.hidden = false;
    button.addEventListener("click", function () {
      tone();  // a tap is what lets the page play sound later
      Notification.requestPermission().then(function () { button.hidden = Notification.permission !== "default"; });
    });
  }
  poll();
})();
