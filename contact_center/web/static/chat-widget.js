/* Contact Center web chat: one script tag on any page.
 *   <script src="https://support.example/static/chat-widget.js" data-queue="general" data-lang="en" async></script>
 * data-mode="page" renders the chat inline in #cc-chat (the /chat page); otherwise a button opens a panel.
 * A reconnecting client resumes with the last message number it showed; the server replays what it missed. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(script.src).origin;
  var opts = script.dataset;
  var lang = (opts.lang || navigator.language || "en").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
  var T = {
    en: {open: "Chat with us", title: "Chat with us", name: "Your name (optional)", email: "Email (optional)",
         first: "How can we help?", start: "Start chat", send: "Send", end: "End chat", input: "Message",
         typing: "typing…", position: "You are number {p} in the queue.", wait: "Expected wait: about {m} min.",
         nowait: "We are finding someone for you.", ended: "This chat has ended.", reconnecting: "Reconnecting…",
         close: "Close", you: "You", agent: "Agent", newchat: "New chat"},
    zh: {open: "在线客服", title: "在线客服", name: "您的姓名（可选）", email: "电子邮箱（可选）",
         first: "请问有什么可以帮您？", start: "开始对话", send: "发送", end: "结束对话", input: "消息",
         typing: "正在输入…", position: "您在队列中排第 {p} 位。", wait: "预计等待约 {m} 分钟。",
         nowait: "正在为您安排客服。", ended: "对话已结束。", reconnecting: "正在重新连接…",
         close: "关闭", you: "您", agent: "客服", newchat: "新对话"}
  }[lang];
  var storeKey = "cc-chat:" + base;
  var state = load();
  var socket = null, retry = 0, lastTyping = 0, typingTimer = null, ended = false;

  function load() {
    try { return JSON.parse(localStorage.getItem(storeKey)) || {}; } catch (e) { return {}; }
  }
  function save() { try { localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* private mode */ } }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text) { node.textContent = text; }
    return node;
  }

  var css = el("link"); css.rel = "stylesheet"; css.href = base + "/static/chat-widget.css";
  document.head.appendChild(css);
  var root = el("section", "ccw-panel");
  root.setAttribute("aria-label", T.title);
  root.setAttribute("lang", lang === "zh" ? "zh-CN" : "en");
  var header = el("header", "ccw-header");
  var title = el("h2", "ccw-title", T.title);
  header.appendChild(title);
  root.appendChild(header);
  var log = el("ol", "ccw-log"); log.setAttribute("aria-live", "polite"); log.id = "ccw-log";
  var info = el("p", "ccw-info"); info.id = "ccw-info"; info.setAttribute("role", "status");
  var typing = el("p", "ccw-typing"); typing.id = "ccw-typing";

  // The start form: name and email optional, the first message required.
  var form = el("form", "ccw-start");
  function field(labelText, type, name, required) {
    var label = el("label", "ccw-label", labelText);
    var input = type === "textarea" ? el("textarea") : el("input");
    if (type !== "textarea") { input.type = type; }
    input.name = name; input.id = "ccw-" + name; label.htmlFor = input.id;
    if (required) { input.required = true; }
    form.appendChild(label); form.appendChild(input);
    return input;
  }
  var nameInput = field(T.name, "text", "name", false);
  var emailInput = field(T.email, "email", "email", false);
  var firstInput = field(T.first, "textarea", "first", true);
  var startButton = el("button", "ccw-button", T.start); startButton.type = "submit";
  form.appendChild(startButton);

  var compose = el("form", "ccw-compose");
  var composeLabel = el("label", "ccw-label ccw-hidden", T.input);
  var input = el("input"); input.id = "ccw-input"; input.name = "body"; input.autocomplete = "off";
  input.setAttribute("aria-label", T.input); composeLabel.htmlFor = input.id;
  var sendButton = el("button", "ccw-button", T.send); sendButton.type = "submit";
  var endButton = el("button", "ccw-button ccw-secondary", T.end); endButton.type = "button";
  compose.appendChild(composeLabel); compose.appendChild(input); compose.appendChild(sendButton); compose.appendChild(endButton);
  var newButton = el("button", "ccw-button ccw-hidden", T.newchat); newButton.type = "button";

  root.appendChild(form); root.appendChild(log); root.appendChild(info); root.appendChild(typing);
  root.appendChild(compose); root.appendChild(newButton);

  var inline = opts.mode === "page";
  var launcher = null;
  if (inline) {
    (document.getElementById("cc-chat") || document.body).appendChild(root);
  } else {
    root.classList.add("ccw-floating", "ccw-hidden");
    launcher = el("button", "ccw-launcher", T.open); launcher.type = "button";
    launcher.setAttribute("aria-expanded", "false");
    var closer = el("button", "ccw-close", "×"); closer.type = "button"; closer.setAttribute("aria-label", T.close);
    header.appendChild(closer);
    launcher.addEventListener("click", function () { toggle(true); });
    closer.addEventListener("click", function () { toggle(false); });
    root.addEventListener("keydown", function (e) { if (e.key === "Escape") { toggle(false); } });
    document.body.appendChild(launcher); document.body.appendChild(root);
  }
  function toggle(open) {
    root.classList.toggle("ccw-hidden", !open);
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { (state.chat ? input : nameInput).focus(); } else { launcher.focus(); }
  }

  function showStarted(started) {
    form.classList.toggle("ccw-hidden", started);
    compose.classList.toggle("ccw-hidden", !started || ended);
    newButton.classList.toggle("ccw-hidden", !ended);
  }
  showStarted(!!state.chat);

  function add(message) {
    if (message.seq <= (state.seq || 0)) { return; }  // already shown (a replay after reconnecting)
    state.seq = message.seq; save();
    var item = el("li", "ccw-msg ccw-" + message.sender);
    item.dataset.seq = message.seq;
    var who = message.sender === "customer" ? T.you : (message.author || T.agent);
    if (message.sender !== "system") { item.appendChild(el("strong", "ccw-who", who)); }
    item.appendChild(el("span", "ccw-body", message.body));
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    if (message.sender === "agent") { typing.textContent = ""; }
  }

  function connect(first) {
    socket = new WebSocket(base.replace(/^http/, "ws") + "/chat/ws");
    socket.addEventListener("open", function () {
      retry = 0;
      info.textContent = "";
      socket.send(JSON.stringify(first || {type: "resume", chat: state.chat, token: state.token, after: state.seq || 0}));
    });
    socket.addEventListener("message", function (event) {
      var data = JSON.parse(event.data);
      if (data.type === "started") {
        state = {chat: data.chat, token: data.token, seq: 0}; save(); showStarted(true); input.focus();
      } else if (data.type === "message") {
        add(data);
      } else if (data.type === "queue") {
        var text = T.position.replace("{p}", data.position);
        text += " " + (data.expected_wait === null ? T.nowait : T.wait.replace("{m}", Math.max(1, Math.round(data.expected_wait / 60))));
        info.textContent = text;
      } else if (data.type === "status") {
        if (data.status !== "waiting") { info.textContent = ""; }
        if (data.status === "closed") { finish(); }
      } else if (data.type === "typing") {
        typing.textContent = T.agent + " " + T.typing;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { typing.textContent = ""; }, 4000);
      } else if (data.type === "error") {
        info.textContent = data.message;
        if (!state.token) { showStarted(false); }
      }
    });
    socket.addEventListener("close", function () {
      if (ended || !state.chat) { return; }
      info.textContent = T.reconnecting;
      retry = Math.min(retry + 1, 6);
      setTimeout(function () { connect(null); }, 250 * Math.pow(2, retry - 1));
    });
  }

  function finish() {
    ended = true;
    info.textContent = T.ended;
    state = {}; save();
    showStarted(true);
    if (socket) { socket.close(); }
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!firstInput.value.trim()) { firstInput.focus(); return; }
    ended = false;
    log.textContent = "";
    connect({type: "start", message: firstInput.value, name: nameInput.value, email: emailInput.value,
             language: lang, queue: opts.queue || ""});
    firstInput.value = "";
  });
  compose.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = input.value.trim();
    if (!body || !socket || socket.readyState !== WebSocket.OPEN) { return; }
    socket.send(JSON.stringify({type: "message", body: body}));
    input.value = "";
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (socket && socket.readyState === WebSocket.OPEN && now - lastTyping > 1500) {
      lastTyping = now;
      socket.send(JSON.stringify({type: "typing"}));
    }
  });
  endButton.addEventListener("click", function () {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify({type: "close"})); }
  });
  newButton.addEventListener("click", function () {
    ended = false; log.textContent = ""; info.textContent = ""; showStarted(false); nameInput.focus();
  });

  // A new page has shown nothing yet: the whole transcript is replayed from the store.
  if (state.chat) { state.seq = 0; connect(null); }
  // Tests and the embedding page can reach the socket, e.g. to check a reconnect.
  window.ccChat = {drop: function () { if (socket) { socket.close(); } }};
}());
