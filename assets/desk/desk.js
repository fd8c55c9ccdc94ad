// bulten's desk: the little the pages need beyond HTML. Sections with `data-refresh` are
// reloaded from that address every few seconds while the page is visible (a running
// campaign's progress); nothing else runs.
(function () {
  "use strict";
  var EVERY_MS = 5000;
  function refresh(section) {
    if (document.hidden) { return; }
    fetch(section.getAttribute("data-refresh"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) { section.innerHTML = html; } })
      .catch(function () { /* the next tick tries again */ });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(function (section) {
      setInterval(function () { refresh(section); }, EVERY_MS);
    });
  });
})();
