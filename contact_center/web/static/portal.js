// Suggest help articles while a customer types a new case's subject (no library; the CSP allows only our scripts).
(function () {
  "use strict";
  var form = document.getElementById("new-case");
  if (!form) { return; }
  var subject = document.getElementById("subject");
  var box = document.getElementById("suggestions");
  var list = document.getElementById("suggestion-list");
  var draft = form.getAttribute("data-draft");
  var language = document.getElementById("language");
  var timer = null;
  var latest = 0;

  function show(results) {
    list.textContent = "";
    results.forEach(function (hit) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      // Opening an article from here is counted: leaving without submitting is a deflected case.
      link.href = hit.url + "?draft=" + encodeURIComponent(draft) + "&back=/portal";
      link.textContent = hit.title;
      item.appendChild(link);
      list.appendChild(item);
    });
    box.hidden = results.length === 0;
  }

  function ask() {
    var text = subject.value.trim();
    if (text.length < 2) { show([]); return; }
    var ticket = ++latest;
    var url = "/api/v1/kb/suggest?limit=3&language=" + encodeURIComponent(language.value) +
      "&text=" + encodeURIComponent(text);
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (results) { if (ticket === latest) { show(results); } })
      .catch(function () { /* Suggestions are a help, not a requirement: the form works without them. */ });
  }

  subject.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 250);
  });
  language.addEventListener("change", ask);
}());
