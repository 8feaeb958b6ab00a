/* The wallboard: figures pushed over /wallboard/ws, history drawn with uPlot, what-if from the simulator. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  if (!$("wallboard")) { return; }
  var retry = 0, charts = {};

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  function secs(value) { return value === null || value === undefined ? "—" : Math.round(value) + " s"; }
  function pct(value) { return value === null || value === undefined ? "—" : Math.round(value * 100) + " %"; }

  function render(figures) {
    var body = document.querySelector("#queues tbody");
    body.textContent = "";
    figures.queues.forEach(function (q) {
      var row = el("tr");
      row.dataset.queue = q.queue;
      var cells = [q.queue, String(q.waiting), secs(q.longest_wait), pct(q.service_level), secs(q.average_speed_of_answer),
                   secs(q.average_handle_time), pct(q.abandonment_rate), String(q.offered), String(q.agents_needed), String(q.agents_staffed)];
      cells.forEach(function (text, i) {
        var cell = el(i === 0 ? "th" : "td", null, text);
        if (i === 0) { cell.scope = "row"; }
        if (i === 3 && q.service_level !== null && q.service_level < q.target) { cell.className = "bad"; }
        if (i === 8 && q.agents_needed > q.agents_staffed) { cell.className = "bad"; }
        cell.dataset.field = ["queue", "waiting", "longest", "sl", "asa", "aht", "abandon", "offered", "needed", "staffed"][i];
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
    var agents = $("agents");
    agents.textContent = "";
    Object.keys(figures.agents.by_activity).forEach(function (state) {
      var item = el("li", null, state.replace("_", " ") + ": " + figures.agents.by_activity[state]);
      item.dataset.state = state;
      agents.appendChild(item);
    });
    agents.appendChild(el("li", null, "occupancy: " + pct(figures.agents.occupancy)));
    var people = $("agent-list");
    people.textContent = "";
    figures.agents.list.forEach(function (a) {
      var row = el("tr");
      row.dataset.agent = a.id;
      var name = el("th", null, a.name); name.scope = "row";
      row.appendChild(name);
      row.appendChild(el("td", "state-" + a.activity, a.activity.replace("_", " ")));
      row.appendChild(el("td", null, String(a.load)));
      people.appendChild(row);
    });
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    loadHistory();
  }

  var historyPending = false;
  function loadHistory() {
    if (historyPending || typeof uPlot === "undefined") { return; }
    historyPending = true;
    fetch("/api/v1/wallboard/history?hours=8&minutes=15", {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (h) {
        historyPending = false;
        var width = Math.max(300, $("chart-volume").clientWidth - 10);
        draw("chart-volume", width, [h.t, h.offered, h.answered, h.abandoned],
             [{label: "offered", stroke: "#0b5cad"}, {label: "answered", stroke: "#1a7f37"}, {label: "abandoned", stroke: "#a40e26"}]);
        draw("chart-sl", width, [h.t, h.service_level], [{label: "service level %", stroke: "#8250df", spanGaps: true}],
             {y: {range: [0, 100]}});
      })
      .catch(function () { historyPending = false; });
  }
  function draw(id, width, data, series, scales) {
    if (charts[id]) { charts[id].setData(data); return; }
    var opts = {width: width, height: 140, series: [{}].concat(series), axes: [{}, {size: 40}], legend: {show: true},
                scales: scales || {}};
    charts[id] = new uPlot(opts, data, $(id));
  }

  function connect() {
    var socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/wallboard/ws");
    socket.addEventListener("open", function () { retry = 0; });
    socket.addEventListener("message", function (event) {
      var m = JSON.parse(event.data);
      if (m.type === "figures") { render(m); }
    });
    socket.addEventListener("close", function () {
      $("updated").textContent = "reconnecting…";
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 250 * Math.pow(2, retry - 1));
    });
  }
  connect();

  $("whatif").addEventListener("submit", function (e) {
    e.preventDefault();
    var q = new URLSearchParams({agents: $("wi-agents").value, arrival_rate_per_hour: $("wi-rate").value,
                                 aht: $("wi-aht").value, threshold: $("wi-threshold").value});
    $("whatif-result").textContent = "Simulating…";
    fetch("/api/v1/wallboard/what-if?" + q.toString(), {credentials: "same-origin"})
      .then(function (r) { return r.json().then(function (d) { if (!r.ok) { throw new Error(d.error.message); } return d; }); })
      .then(function (d) {
        $("whatif-result").textContent = "Erlang C: " + pct(d.erlang_c_service_level) + " answered within " +
          d.threshold + " s; simulator: " + pct(d.simulated.service_level) + " (ASA " + secs(d.simulated.average_speed_of_answer) + ").";
      })
      .catch(function (err) { $("whatif-result").textContent = err.message; });
  });
}());
