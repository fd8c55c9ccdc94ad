// bulten's desk: the little the pages need beyond HTML. Sections with `data-refresh` are
// reloaded from that address every few seconds while the page is visible (a running
// campaign's progress); a button with `data-copy` copies the text of the element it names
// and says so in the status beside it.
(function () {
  "use strict";
  var EVERY_MS = 5000;
  function refresh(section) {
    if (document.hidden) { return; }
    fetch(section.getAttribute("data-refresh"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        // Signed out meanwhile: the answer is the sign-in page, which belongs to the window.
        if (response.redirected) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) { if (html !== null) { section.innerHTML = html; } })
      .catch(function () { /* the next tick tries again */ });
  }
  function copy(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById(button.getAttribute("data-copy") + "-status");
    if (!source || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(source.textContent).then(function () {
      if (status) { status.textContent = button.getAttribute("data-copied") || ""; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () { copy(button); });
    });
    document.querySelectorAll("[data-refresh]").forEach(function (section) {
      setInterval(function () { refresh(section); }, EVERY_MS);
    });
  });
})();
