/* The agent desktop: offers, presence and chat lines arrive over /desktop/ws; actions are REST calls. */
(function () {
  "use strict";
  var root = document.getElementById("desktop");
  if (!root) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var $ = function (id) { return document.getElementById(id); };
  var offers = {};      // reservation id -> {data, deadline, node}
  var current = null;   // the open workspace
  var lastSeq = 0;
  var unread = {};      // chat id -> true while a line came in for a chat that is not open
  var socket = null, retry = 0, lastTyping = 0, typingTimer = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  function api(method, path, body) {
    var init = {method: method, headers: {"X-CSRF-Token": csrf}, credentials: "same-origin"};
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error((data.error && data.error.message) || response.statusText); }
        return data;
      });
    });
  }
  function say(text) { $("action-result").textContent = text; }

  // Presence -------------------------------------------------------------------------------------------
  $("presence").addEventListener("change", function () {
    api("POST", "/api/v1/me/activity", {activity: this.value}).catch(function (e) { say(e.message); });
  });
  function showActivity(activity) {
    var select = $("presence");
    var known = ["available", "away", "offline"].indexOf(activity) >= 0;
    select.value = known ? activity : "available";
    select.title = activity;
    $("connection").textContent = "Connected · " + activity.replace("_", " ");
  }

  // Offers ---------------------------------------------------------------------------------------------
  function addOffer(data) {
    if (offers[data.reservation_id]) { return; }
    var item = el("li", "offer");
    item.dataset.reservation = data.reservation_id;
    item.appendChild(el("strong", null, (data.channel || "").toUpperCase() + " · " + data.queue));
    item.appendChild(el("div", null, (data.customer || "") + (data.subject ? ": " + data.subject : "")));
    var clock = el("span", "countdown");
    item.appendChild(clock);
    var accept = el("button", null, "Accept"); accept.type = "button";
    var reject = el("button", "secondary", "Reject"); reject.type = "button";
    accept.addEventListener("click", function () {
      api("POST", "/api/v1/reservations/" + encodeURIComponent(data.reservation_id) + "/accept")
        .then(function (answer) { removeOffer(data.reservation_id); loadWork(); open(answer.contact_id); })
        .catch(function (e) { say(e.message); removeOffer(data.reservation_id); });
    });
    reject.addEventListener("click", function () {
      api("POST", "/api/v1/reservations/" + encodeURIComponent(data.reservation_id) + "/reject")
        .catch(function (e) { say(e.message); });
      removeOffer(data.reservation_id);
    });
    accept.setAttribute("aria-keyshortcuts", "Alt+A"); accept.title = "Accept (Alt+A)";
    reject.setAttribute("aria-keyshortcuts", "Alt+R"); reject.title = "Reject (Alt+R)";
    item.appendChild(document.createTextNode(" "));
    item.appendChild(accept); item.appendChild(document.createTextNode(" ")); item.appendChild(reject);
    $("offers").appendChild(item);
    offers[data.reservation_id] = {data: data, deadline: Date.now() + data.remaining * 1000, node: item, clock: clock};
    tick();
    $("no-offers").hidden = true;
  }
  function removeOffer(id) {
    var offer = offers[id];
    if (!offer) { return; }
    offer.node.remove();
    delete offers[id];
    $("no-offers").hidden = Object.keys(offers).length > 0;
  }
  function tick() {
    Object.keys(offers).forEach(function (id) {
      var left = Math.max(0, Math.round((offers[id].deadline - Date.now()) / 1000));
      offers[id].clock.textContent = left + " s";
    });
  }
  setInterval(tick, 500);
  // The oldest offer answers to Alt+A (accept) and Alt+R (reject) from anywhere on the page.
  document.addEventListener("keydown", function (e) {
    // By key position: on a Mac, Option+A types "å".
    if (!e.altKey || (e.code !== "KeyA" && e.code !== "KeyR")) { return; }
    var first = document.querySelector("#offers .offer");
    if (!first) { return; }
    e.preventDefault();
    first.querySelectorAll("button")[e.code === "KeyA" ? 0 : 1].click();
  });

  // Work -----------------------------------------------------------------------------------------------
  function loadWork() {
    return api("GET", "/api/v1/me/work").then(function (items) {
      var list = $("work");
      list.textContent = "";
      items.forEach(function (item) {
        var li = el("li");
        var label = item.channel + " · " + item.customer + " · " + item.case_number;
        var button = el("button", null, unread[item.chat_id] ? label + " · new message" : label);
        if (unread[item.chat_id]) { button.classList.add("unread"); }
        button.type = "button";
        button.dataset.contact = item.contact_id;
        if (current && current.contact.id === item.contact_id) { button.setAttribute("aria-current", "true"); }
        button.addEventListener("click", function () { open(item.contact_id); });
        li.appendChild(button);
        list.appendChild(li);
      });
      if (!items.length) { list.appendChild(el("li", "muted", "Nothing in hand.")); }
    });
  }

  function line(cls, who, body) {
    var item = el("li", "line " + cls);
    if (who) { item.appendChild(el("span", "who", who)); }
    item.appendChild(el("span", "body", body));
    $("transcript").appendChild(item);
    item.scrollIntoView({block: "nearest"});
    return item;
  }
  function addChatMessage(m) {
    if (m.seq <= lastSeq) { return; }
    lastSeq = m.seq;
    line(m.sender, m.sender === "system" ? null : (m.author || m.sender), m.body);
    if (m.sender === "customer") { $("typing").textContent = ""; }
  }

  function open(contactId) {
    return api("GET", "/api/v1/contacts/" + contactId + "/workspace").then(function (w) {
      current = w;
      lastSeq = 0;
      if (w.chat) { delete unread[w.chat.id]; }
      $("pick").hidden = true;
      $("conv").hidden = false;
      $("conv-title").textContent = w.case.number + ": " + w.case.subject;
      $("conv-meta").textContent = w.contact.channel + " · " + (w.contact.address || "") + " · case " + w.case.status;
      $("transcript").textContent = "";
      $("typing").textContent = "";
      if (w.chat) {
        w.chat.messages.forEach(addChatMessage);
      } else {
        w.timeline.forEach(function (e) {
          if (e.kind === "message_in") { line("in", e.actor, e.body); }
          else if (e.kind === "message_out") { line("out", e.actor, e.body); }
          else if (e.body) { line("note", null, e.kind.replace("_", " ") + ": " + e.body); }
        });
        if (w.call) {
          var ivr = w.call.ivr;
          var choices = Object.keys(ivr.choices).map(function (k) { return k + "=" + ivr.choices[k]; }).join(", ");
          line("note", null, "Call " + (w.call.status || "") + " · IVR: " + (ivr.turns.join(" → ") || "—") +
               " · ended at " + (ivr.node || "—") + (choices ? " · chose " + choices : ""));
        }
      }
      var chatOpen = !!w.chat && w.chat.status !== "closed" && !w.contact.ended_at;
      $("chat-form").hidden = !chatOpen;
      $("sms-form").hidden = w.contact.channel !== "sms";
      $("email-form").hidden = w.contact.channel !== "email";
      fillSelect($("wrap-code"), w.wrap_up_codes);
      fillSelect($("wrap-status"), [""].concat(w.case.next_statuses), "(leave as it is)");
      fillSelect($("transfer-queue"), w.queues);
      fillOptions($("transfer-agent"), [["", "anyone in the queue"]].concat(
        w.agents.map(function (a) { return [String(a.id), a.name]; })));
      fillSelect($("status-now"), w.case.next_statuses);
      $("merge-form").hidden = !w.case.duplicate_of;
      $("merge-target").textContent = w.case.duplicate_of || "";
      showCustomer(w.customer);
      showArticles(w.knowledge_base);
      say("");
      loadWork();
      if (chatOpen) { $("chat-input").focus(); }
    }).catch(function (e) { say(e.message); });
  }
  function fillOptions(select, pairs) {
    var previous = select.value;
    select.textContent = "";
    pairs.forEach(function (p) { var o = el("option", null, p[1]); o.value = p[0]; select.appendChild(o); });
    select.value = previous;
    if (select.selectedIndex < 0) { select.selectedIndex = 0; }
  }
  function fillSelect(select, values, blank) {
    var previous = select.value;
    select.textContent = "";
    values.forEach(function (v) { var o = el("option", null, v || blank); o.value = v; select.appendChild(o); });
    if (values.indexOf(previous) >= 0) { select.value = previous; }
  }
  // Reload the open contact after an action, then say how the action went.
  function refresh(text) {
    return open(current.contact.id).then(function () { say(text); });
  }
  function showArticles(articles) {
    var box = $("kb");
    box.textContent = "";
    if (!articles.length) { box.appendChild(el("p", "muted", "No matching articles.")); return; }
    var list = el("ul", "kb-suggestions");
    articles.forEach(function (a) {
      var li = el("li");
      var link = el("a", null, a.title); link.href = a.url; link.target = "_blank"; link.rel = "noopener";
      li.appendChild(link);
      if (a.visibility === "internal") { li.appendChild(el("span", "muted", " (internal)")); }
      // The snippet is escaped text with <mark> around the matched words, made by the server.
      var snippet = el("p", "snippet"); snippet.innerHTML = a.snippet;
      li.appendChild(snippet);
      list.appendChild(li);
    });
    box.appendChild(list);
  }
  function showCustomer(c) {
    var box = $("c360");
    box.textContent = "";
    box.className = "c360";
    var dl = el("dl");
    function fact(name, value) { dl.appendChild(el("dt", null, name)); dl.appendChild(el("dd", null, value)); }
    fact("Name", c.name);
    fact("Value", c.tier + " tier · score " + c.value_score);
    fact("Lifetime value", c.lifetime_value);
    fact("Loyalty", c.segment || "—");
    fact("Language", c.language);
    fact("Retention offer", c.retention_offer || "none configured for this tier");
    box.appendChild(dl);
    box.appendChild(el("h3", null, "Identities"));
    var ids = el("ul");
    c.identities.forEach(function (i) { ids.appendChild(el("li", null, i.kind + ": " + i.address)); });
    box.appendChild(ids);
    box.appendChild(el("h3", null, "Cases (" + c.cases.length + ")"));
    var cases = el("ul");
    c.cases.forEach(function (k) {
      var li = el("li");
      var a = el("a", null, k.number); a.href = "/cases/" + k.number;
      li.appendChild(a);
      li.appendChild(document.createTextNode(" " + k.status + " · " + k.subject + " · " +
        k.contacts.map(function (x) { return x.channel; }).join(", ")));
      cases.appendChild(li);
    });
    box.appendChild(cases);
    box.appendChild(el("h3", null, "Technician visits"));
    if (!c.visits.length) { box.appendChild(el("p", "muted", "None.")); return; }
    var visits = el("ul");
    c.visits.forEach(function (v) {
      var when = v.planned_start || v.window_start;
      visits.appendChild(el("li", null, v.case + " · " + v.job_type.replace("_", " ") + " · " + v.status.replace("_", " ") +
        (when ? " · " + new Date(when).toLocaleString() : "") + (v.technician ? " · " + v.technician : "") +
        (v.eta ? " · ETA " + new Date(v.eta).toLocaleTimeString() : "")));
    });
    box.appendChild(visits);
  }

  // Composers ------------------------------------------------------------------------------------------
  $("chat-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = $("chat-input");
    var body = input.value.trim();
    if (!body || !current || !current.chat) { return; }
    api("POST", "/api/v1/chats/" + current.chat.id + "/messages", {body: body})
      .then(function (m) { addChatMessage(m); input.value = ""; })
      .catch(function (err) { say(err.message); });
  });
  $("chat-input").addEventListener("input", function () {
    if (current && current.chat && socket && socket.readyState === WebSocket.OPEN && Date.now() - lastTyping > 1500) {
      lastTyping = Date.now();
      socket.send(JSON.stringify({type: "typing", chat_id: current.chat.id}));
    }
  });
  $("chat-end").addEventListener("click", function () {
    if (!current || !current.chat) { return; }
    api("POST", "/api/v1/chats/" + current.chat.id + "/close").then(function () { open(current.contact.id); })
      .catch(function (err) { say(err.message); });
  });
  $("sms-form").addEventListener("submit", function (e) {
    e.preventDefault();
    api("POST", "/api/v1/cases/" + current.case.number + "/replies", {channel: "sms", body: $("sms-input").value})
      .then(function () { $("sms-input").value = ""; return refresh("Text queued for sending."); })
      .catch(function (err) { say(err.message); });
  });
  // Templates an agent may choose; acknowledgements and oversize notices are sent by the system, and "reply"
  // is what a plain text is wrapped in anyway.
  var SYSTEM_TEMPLATES = ["acknowledgement", "oversize", "reply"];
  api("GET", "/api/v1/email-templates").then(function (templates) {
    var names = [];
    templates.forEach(function (t) {
      if (SYSTEM_TEMPLATES.indexOf(t.name) < 0 && names.indexOf(t.name) < 0) { names.push(t.name); }
    });
    names.sort().forEach(function (name) {
      var o = el("option", null, name.replace(/-/g, " ")); o.value = name; $("email-template").appendChild(o);
    });
  }).catch(function (e) { say(e.message); });
  $("email-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("email-input").value.trim() || null;
    var template = $("email-template").value || null;
    api("POST", "/api/v1/cases/" + current.case.id + "/email-replies",
        {text: text, template: template, language: current.customer.language})
      .then(function (r) { $("email-input").value = ""; return refresh("Email to " + r.to + " queued: " + r.subject); })
      .catch(function (err) { say(err.message); });
  });
  $("email-spell").addEventListener("click", function () {
    api("POST", "/api/v1/spellcheck", {text: $("email-input").value, language: current.customer.language})
      .then(function (r) {
        $("spelling").textContent = r.misspelt.length ? "Check: " + r.misspelt.map(function (m) {
          return m.word + (m.suggestions.length ? " → " + m.suggestions.slice(0, 3).join("/") : "");
        }).join(", ") : "No spelling mistakes found.";
      })
      .catch(function (err) { $("spelling").textContent = err.message; });
  });
  $("wrap-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var body = {code: $("wrap-code").value, notes: $("wrap-notes").value};
    if ($("wrap-status").value) { body.status = $("wrap-status").value; }
    api("POST", "/api/v1/contacts/" + current.contact.id + "/wrap-up", body)
      .then(function (r) { $("wrap-notes").value = ""; return refresh("Finished (" + r.code + "); case is " + r.case_status + "."); })
      .catch(function (err) { say(err.message); });
  });
  $("status-form").addEventListener("submit", function (e) {
    e.preventDefault();
    api("POST", "/api/v1/cases/" + current.case.number + "/status", {status: $("status-now").value})
      .then(function (c) { return refresh("Case " + c.number + " is " + c.status + "."); })
      .catch(function (err) { say(err.message); });
  });
  $("transfer-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var target = $("transfer-agent");
    var body = {queue: $("transfer-queue").value};
    if (target.value) { body.agent_id = Number(target.value); }
    api("POST", "/api/v1/contacts/" + current.contact.id + "/transfer", body)
      .then(function (r) {
        var who = r.agent_id ? target.options[target.selectedIndex].textContent + " first, then " : "";
        return refresh("Transferred to " + who + r.queue + ".");
      })
      .catch(function (err) { say(err.message); });
  });
  $("merge-form").addEventListener("submit", function (e) {
    e.preventDefault();
    api("POST", "/api/v1/cases/" + current.case.number + "/merge", {into: current.case.duplicate_of})
      .then(function (c) { return refresh("Merged into " + c.number + "."); })
      .catch(function (err) { say(err.message); });
  });

  // The socket -----------------------------------------------------------------------------------------
  function connect() {
    socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/desktop/ws");
    socket.addEventListener("open", function () { retry = 0; });
    socket.addEventListener("message", function (event) {
      var m = JSON.parse(event.data);
      if (m.type === "hello") {
        showActivity(m.activity);
        Object.keys(offers).forEach(removeOffer);
        m.offers.forEach(addOffer);
        loadWork();
      } else if (m.type === "offer") { addOffer(m); }
      else if (m.type === "offer_gone") { removeOffer(m.reservation_id); }
      else if (m.type === "task_gone") {
        Object.keys(offers).forEach(function (id) { if (offers[id].data.contact_id === m.contact_id) { removeOffer(id); } });
      } else if (m.type === "activity") { showActivity(m.activity); }
      else if (m.type === "work_changed") { loadWork(); }
      else if (m.type === "visit") {
        // A technician moved a visit of the open customer's cases: redraw the 360 view with its live status.
        if (current && current.customer && current.customer.cases.some(function (k) { return k.id === m.case_id; })) {
          api("GET", "/api/v1/contacts/" + current.contact.id + "/workspace").then(function (w) {
            if (current && current.contact.id === w.contact.id) { showCustomer(w.customer); }
          }).catch(function (e) { say(e.message); });
        }
      }
      else if (m.type === "message") {
        if (current && current.chat && current.chat.id === m.chat_id) { addChatMessage(m); }
        else { unread[m.chat_id] = true; loadWork(); }
      } else if (m.type === "typing") {
        if (current && current.chat && current.chat.id === m.chat_id) {
          $("typing").textContent = "Customer is typing…";
          clearTimeout(typingTimer);
          typingTimer = setTimeout(function () { $("typing").textContent = ""; }, 4000);
        }
      } else if (m.type === "status") {
        if (current && current.chat && current.chat.id === m.chat_id && m.status === "closed") {
          current.chat.status = "closed";
          $("chat-form").hidden = true;
        }
        loadWork();
      }
    });
    socket.addEventListener("close", function (event) {
      $("connection").textContent = event.code === 1008 ? "Disconnected: signed out or disabled." : "Reconnecting…";
      if (event.code === 1008) { return; }
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 250 * Math.pow(2, retry - 1));
    });
  }
  connect();
}());
