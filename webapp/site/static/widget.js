/*
 * The clinic's chat widget: talks to Rasa's socket.io channel and renders the triage protocol.
 * Configuration comes from data- attributes on #clinic-chat (the page has no inline script).
 * Bot content is always inserted as text (textContent), never as HTML.
 *
 * A conversation is health data and a family computer or kiosk is shared: the transcript and the
 * conversation's token live in sessionStorage by default (gone when the tab closes), are wiped
 * after data-idle-minutes without activity, by "Start again" (a new conversation) and by "End and
 * clear this chat". The server makes each conversation's id; only its token continues it.
 */
(function () {
  "use strict";

  const STORAGE_KEY = "clinic-chat:v1";
  const DEFAULT_IDLE_MINUTES = 30;
  const IDLE_CHECK_MS = 15000;
  const LEVEL_RANK = { urgent: 1, emergency: 2 };
  const TYPING_TIMEOUT_MS = 20000;
  const MAX_RETRY_DELAY_MS = 30000;
  const FULL_SCREEN = window.matchMedia("(max-width: 480px)");
  const FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]), [tabindex='0']";

  // ---- small DOM helpers -------------------------------------------------

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function hiddenText(text) {
    return element("span", "visually-hidden", text);
  }

  function telLink(number, label, className) {
    const link = element("a", className, label);
    link.href = "tel:" + String(number).replace(/[^\d+]/g, "");
    return link;
  }

  // Only http(s) and relative URLs become links; anything else (javascript:, data:) is dropped.
  function safeHref(url) {
    if (typeof url !== "string" || !url.trim()) return null;
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (error) {
      return null;
    }
  }

  // ---- rendering bot content ---------------------------------------------

  const BULLET = /^\s*- /;
  const NUMBERED = /^\s*\d+\. /;

  // Text with its line breaks kept; runs of "- x" or "1. x" lines become lists (the bot's
  // messages put a heading line right above its list). `skipNumbered`: leave out the "1. x"
  // lines (a plan the message also carries as custom.plan, shown from there).
  function renderText(text, { skipNumbered = false } = {}) {
    const fragment = document.createDocumentFragment();
    for (const paragraph of String(text).split(/\n\s*\n/)) {
      let lines = paragraph.split("\n").filter((line) => line.trim());
      if (skipNumbered) lines = lines.filter((line) => !NUMBERED.test(line));
      let run = [];
      let runKind = null;
      const flush = () => {
        if (runKind === "ul" || runKind === "ol") {
          const marker = runKind === "ul" ? BULLET : NUMBERED;
          fragment.append(renderList(runKind, run.map((line) => line.replace(marker, ""))));
        } else if (run.length) {
          fragment.append(element("p", "", run.join("\n")));
        }
        run = [];
      };
      for (const line of lines) {
        const kind = BULLET.test(line) ? "ul" : NUMBERED.test(line) ? "ol" : "p";
        if (kind !== runKind) flush();
        runKind = kind;
        run.push(line);
      }
      flush();
    }
    return fragment;
  }

  function renderList(tag, items) {
    const list = element(tag);
    for (const item of items) list.append(element("li", "", item));
    return list;
  }

  function renderPlan(plan) {
    const list = element("ol", "chat-plan");
    // a plan split over several messages numbers on from the previous one
    const first = plan.find((step) => step && typeof step === "object");
    if (first && Number.isInteger(first.number) && first.number > 1) list.start = first.number;
    for (const step of plan) {
      if (!step || typeof step !== "object") continue;
      const item = element("li");
      if (step.id) item.dataset.planId = String(step.id);
      // the title runs into its text ("Heel walking: walk slowly ..."): a line less per step on a phone
      // plan titles come in sentence case from the knowledge data ("ease the soleus ...")
      const title = String(step.title || "");
      if (title) item.append(element("span", "chat-plan-title", `${title[0].toUpperCase()}${title.slice(1)}${step.text ? ":" : ""}`));
      if (step.title && step.text) item.append(" ");
      if (step.text) item.append(element("span", "chat-plan-text", String(step.text)));
      list.append(item);
    }
    return list;
  }

  function renderExplanation(explanation) {
    const box = element("div", "chat-explanation");
    const text = typeof explanation === "string" ? explanation : explanation.text;
    if (text) box.append(renderText(text));
    const links = Array.isArray(explanation.links) ? explanation.links : [];
    const list = element("ul", "chat-links");
    for (const link of links) {
      const href = link && safeHref(link.url);
      if (!href) continue;
      const anchor = element("a", "", String(link.title || link.url));
      anchor.href = href;
      anchor.target = "_blank";
      anchor.rel = "noopener noreferrer";
      anchor.append(hiddenText(" (opens in a new tab)"));
      const item = element("li");
      item.append(anchor);
      list.append(item);
    }
    if (list.children.length) box.append(list);
    return box.children.length ? box : null;
  }

  function buttonsOf(message) {
    if (Array.isArray(message.buttons)) return message.buttons;
    // Rasa's stock socket.io channel calls them quick_replies.
    return Array.isArray(message.quick_replies) ? message.quick_replies : [];
  }

  function triageOf(message) {
    const triage = message.custom && message.custom.triage;
    return triage && typeof triage === "object" ? triage : null;
  }

  function renderChoices(entry, buttons) {
    const group = element("div", "chat-choices");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Choose an answer");
    for (const button of buttons) {
      if (!button || !button.title) continue;
      const title = String(button.title);
      const choice = element("button", "chat-choice", title);
      choice.type = "button";
      choice.dataset.payload = String(button.payload || title);
      if (entry.answered) {
        choice.disabled = true;
        if (entry.chosen === title) choice.classList.add("chat-choice--chosen");
      }
      group.append(choice);
    }
    return group;
  }

  function renderBotEntry(entry) {
    const message = entry.message;
    const custom = message.custom && typeof message.custom === "object" ? message.custom : {};
    const bubble = element("div", "chat-msg chat-msg--bot");
    bubble.append(hiddenText("Assistant: "));
    const plan = Array.isArray(custom.plan) && custom.plan.length ? custom.plan : null;
    if (plan) {
      // the plan list stands where its numbered lines stood: what comes after them stays after it
      const lines = String(message.text || "").split("\n");
      const firstStep = lines.findIndex((line) => NUMBERED.test(line));
      const before = firstStep < 0 ? lines : lines.slice(0, firstStep);
      const after = firstStep < 0 ? [] : lines.slice(firstStep);
      if (before.join("").trim()) bubble.append(renderText(before.join("\n"), { skipNumbered: true }));
      bubble.append(renderPlan(plan));
      if (after.join("").trim()) bubble.append(renderText(after.join("\n"), { skipNumbered: true }));
    } else if (message.text) {
      bubble.append(renderText(message.text));
    }
    const explanation = custom.explanation && renderExplanation(custom.explanation);
    if (explanation) bubble.append(explanation);
    const buttons = buttonsOf(message);
    if (buttons.length) bubble.append(renderChoices(entry, buttons));
    const triage = triageOf(message);
    if (triage && triage.level === "emergency") bubble.classList.add("chat-msg--emergency");
    // Metadata only (e.g. custom.ask): nothing to show.
    return bubble.childNodes.length > 1 ? bubble : null;
  }

  function renderUserEntry(entry) {
    const bubble = element("div", "chat-msg chat-msg--user");
    bubble.append(hiddenText("You: "), element("p", "", entry.text));
    return bubble;
  }

  // ---- persistence ---------------------------------------------------------

  function createStore(kind) {
    const storage = kind === "local" ? window.localStorage : window.sessionStorage;
    if (kind !== "local") {
      try {
        window.localStorage.removeItem(STORAGE_KEY); // what an older widget kept there
      } catch (error) {
        // Storage disabled: nothing was kept.
      }
    }
    return {
      load() {
        try {
          const saved = JSON.parse(storage.getItem(STORAGE_KEY));
          return saved && Array.isArray(saved.entries) ? saved : null;
        } catch (error) {
          return null;
        }
      },
      save(state) {
        try {
          storage.setItem(STORAGE_KEY, JSON.stringify(state));
        } catch (error) {
          // Storage full or disabled: the conversation still works, it just won't survive a reload.
        }
      },
      clear() {
        try {
          storage.removeItem(STORAGE_KEY);
        } catch (error) {
          // Storage disabled: nothing was kept.
        }
      },
    };
  }

  // sessionId: Rasa's conversation (made by the server); token: what continues it; started: the
  // opening payload has been sent; lastActive: when the patient or the bot last said something.
  function freshState(open) {
    return { sessionId: null, token: null, entries: [], started: false, open, lastActive: Date.now() };
  }

  // ---- the widget ------------------------------------------------------------

  class ChatWidget {
    constructor(root) {
      const data = root.dataset;
      this.config = {
        rasaUrl: data.rasaUrl,
        socketPath: data.socketPath || "/socket.io",
        emergencyNumber: data.emergencyNumber || "999",
        clinicPhone: data.clinicPhone || "",
        initPayload: data.initPayload || "",
        idleMs: 60000 * (Number(data.idleMinutes) > 0 ? Number(data.idleMinutes) : DEFAULT_IDLE_MINUTES),
      };
      this.root = root;
      this.parts = {};
      for (const part of root.querySelectorAll("[data-chat]")) this.parts[part.dataset.chat] = part;
      this.store = createStore(data.storage);
      this.state = this.store.load() || freshState(false);
      if (this.idleTooLong()) {
        // The previous visitor left it: nothing of their conversation is shown or continued.
        this.store.clear();
        this.state = freshState(false);
      }
      this.socket = null;
      this.sessionConfirmed = false;
      this.outbox = [];
      this.retries = 0;
      this.retryTimer = null;
      this.typingTimer = null;
      this.bannerKey = "";

      this.bindEvents();
      for (const entry of this.state.entries) this.appendEntry(entry);
      this.updateBanner();
      this.parts.launcher.hidden = false;
      if (this.state.open) this.open({ focus: false });
      setInterval(() => {
        if (this.state.sessionId && this.idleTooLong()) this.endAndClear({ focus: false });
      }, IDLE_CHECK_MS);
    }

    idleTooLong() {
      const last = Number(this.state.lastActive);
      return Boolean(this.state.entries.length || this.state.sessionId) &&
        !(last > Date.now() - this.config.idleMs);
    }

    bindEvents() {
      const { launcher, panel, close, restart, end, form, log } = this.parts;
      launcher.addEventListener("click", () => (this.isOpen() ? this.close() : this.open()));
      close.addEventListener("click", () => this.close());
      restart.addEventListener("click", () => this.restart());
      end.addEventListener("click", () => this.endAndClear({ focus: true }));
      panel.addEventListener("keydown", (event) => this.onKeydown(event));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const text = this.parts.input.value.trim();
        if (!text) return;
        this.parts.input.value = "";
        this.sendFromPatient(text, text);
      });
      // Banners, notices and a phone's keyboard shrink the log: keep the latest message in view
      // (unless the patient had scrolled up to read).
      let logHeight = log.clientHeight;
      new ResizeObserver(() => {
        const wasAtEnd = log.scrollTop + logHeight >= log.scrollHeight - 40;
        logHeight = log.clientHeight;
        if (wasAtEnd) this.scrollToEnd();
      }).observe(log);
      log.addEventListener("click", (event) => {
        const choice = event.target.closest(".chat-choice");
        if (!choice || choice.disabled) return;
        this.sendFromPatient(choice.dataset.payload, choice.textContent, choice);
        this.parts.input.focus();
      });
    }

    isOpen() {
      return !this.parts.panel.hidden;
    }

    open({ focus = true } = {}) {
      this.parts.panel.hidden = false;
      this.parts.launcher.setAttribute("aria-expanded", "true");
      this.root.classList.add("chat--open");
      document.documentElement.classList.toggle("chat-fullscreen", FULL_SCREEN.matches);
      this.setState({ open: true });
      this.connect();
      this.scrollToEnd();
      if (focus) this.parts.input.focus();
    }

    close() {
      this.parts.panel.hidden = true;
      this.parts.launcher.setAttribute("aria-expanded", "false");
      this.root.classList.remove("chat--open");
      document.documentElement.classList.remove("chat-fullscreen");
      this.setState({ open: false });
      this.parts.launcher.focus();
    }

    onKeydown(event) {
      if (event.key === "Escape") {
        event.preventDefault();
        this.close();
      } else if (event.key === "Tab" && FULL_SCREEN.matches) {
        this.keepFocusInside(event);
      }
    }

    // Full screen the page behind is covered, so Tab cycles inside the widget.
    keepFocusInside(event) {
      const focusable = [...this.parts.panel.querySelectorAll(FOCUSABLE)].filter(
        (node) => node.getClientRects().length
      );
      if (!focusable.length) return;
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }

    setState(changes) {
      Object.assign(this.state, changes);
      this.saveState();
    }

    saveState() {
      this.store.save(this.state);
    }

    // ---- conversation ----

    sendFromPatient(payload, shownText, chosenButton) {
      this.closeOpenQuestions(chosenButton);
      this.addEntry({ from: "user", text: shownText });
      this.deliver(payload);
      this.showTyping();
    }

    // Once the patient answers, earlier buttons can no longer be pressed.
    closeOpenQuestions(chosenButton) {
      for (const entry of this.state.entries) {
        if (entry.from === "bot" && !entry.answered && buttonsOf(entry.message).length) {
          entry.answered = true;
          if (chosenButton && chosenButton.closest(".chat-msg") === entry.node) {
            entry.chosen = chosenButton.textContent;
          }
        }
      }
      if (chosenButton) chosenButton.classList.add("chat-choice--chosen");
      for (const choice of this.parts.log.querySelectorAll(".chat-choice:not(:disabled)")) {
        choice.disabled = true;
      }
    }

    receive(message) {
      if (!message || typeof message !== "object") return;
      this.hideTyping();
      this.addEntry({ from: "bot", message });
      this.updateBanner();
      const triage = triageOf(message);
      // The patient may have closed the widget while waiting: emergency advice must be seen.
      if (triage && triage.level === "emergency" && !this.isOpen()) this.open({ focus: false });
    }

    addEntry(entry) {
      this.state.entries.push(entry);
      this.state.lastActive = Date.now();
      this.saveState();
      this.appendEntry(entry);
    }

    appendEntry(entry) {
      const node = entry.from === "user" ? renderUserEntry(entry) : renderBotEntry(entry);
      // The node is kept off the stored copy (JSON.stringify skips non-enumerable properties).
      Object.defineProperty(entry, "node", { value: node, writable: true, enumerable: false });
      if (node) {
        this.parts.log.append(node);
        this.scrollToEnd();
      }
    }

    startConversation() {
      this.setState({ started: true });
      if (this.config.initPayload) {
        this.deliver(this.config.initPayload);
        this.showTyping();
      }
    }

    // "Start again": a new conversation (a new id from the server), the old one wiped here.
    restart() {
      this.forgetConversation(true);
      this.requestSession();
      this.parts.input.focus();
    }

    // "End and clear this chat", and the idle expiry: nothing of it is left in this browser, and
    // the socket leaves its conversation. Opening the widget again starts a new one.
    endAndClear({ focus }) {
      this.forgetConversation(false);
      const socket = this.socket;
      this.socket = null; // first: its "disconnect" is no outage to report
      if (socket) socket.disconnect();
      this.parts.panel.hidden = true;
      this.parts.launcher.setAttribute("aria-expanded", "false");
      this.root.classList.remove("chat--open");
      document.documentElement.classList.remove("chat-fullscreen");
      if (focus) this.parts.launcher.focus();
    }

    forgetConversation(open) {
      this.store.clear();
      this.state = freshState(open);
      this.saveState();
      this.sessionConfirmed = false;
      this.outbox = [];
      this.parts.log.replaceChildren();
      this.parts.notice.replaceChildren();
      this.hideTyping();
      this.updateBanner();
    }

    // The highest triage level seen so far decides the banner.
    updateBanner() {
      let top = null;
      for (const entry of this.state.entries) {
        const triage = entry.from === "bot" && triageOf(entry.message);
        if (triage && LEVEL_RANK[triage.level] >= (top ? LEVEL_RANK[top.level] : 1)) top = triage;
      }
      const number = top && (top.call || (top.level === "emergency" ? this.config.emergencyNumber : this.config.clinicPhone));
      const key = top ? top.level + ":" + number : "";
      if (key === this.bannerKey) return; // unchanged: don't re-announce
      this.bannerKey = key;
      this.parts.banner.replaceChildren(...(top ? [this.renderBanner(top.level, String(number))] : []));
    }

    renderBanner(level, number) {
      const emergency = level === "emergency";
      const banner = element("div", "chat-banner chat-banner--" + level);
      banner.append(
        element("p", "chat-banner-title", emergency ? "This could be an emergency" : "Get seen today"),
        telLink(number, emergency ? "Call " + number + " now" : "Call the clinic on " + number, "chat-banner-call")
      );
      return banner;
    }

    showTyping() {
      this.parts.typing.hidden = false;
      clearTimeout(this.typingTimer);
      this.typingTimer = setTimeout(() => this.hideTyping(), TYPING_TIMEOUT_MS);
      this.scrollToEnd();
    }

    hideTyping() {
      clearTimeout(this.typingTimer);
      this.parts.typing.hidden = true;
    }

    scrollToEnd() {
      this.parts.log.scrollTop = this.parts.log.scrollHeight;
    }

    // ---- connection ----

    connect() {
      if (this.socket) return;
      if (typeof window.io !== "function" || !this.config.rasaUrl) {
        this.showConnectionProblem();
        return;
      }
      const socket = window.io(this.config.rasaUrl, {
        path: this.config.socketPath,
        // Rasa's channel sends no CORS headers, so long-polling from another origin fails.
        transports: ["websocket"],
        reconnectionDelayMax: MAX_RETRY_DELAY_MS,
      });
      this.socket = socket;
      socket.on("connect", () => {
        this.retries = 0;
        this.requestSession();
      });
      socket.on("session_confirm", (data) => this.onSessionConfirmed(data));
      // The conversation's token was refused (it lapsed): it cannot go on, so a new one starts.
      socket.on("session_refused", () => {
        this.forgetConversation(this.isOpen());
        this.requestSession();
      });
      socket.on("bot_uttered", (message) => this.receive(message));
      socket.on("disconnect", (reason) => {
        if (this.socket !== socket) return; // ended on purpose (End and clear)
        this.sessionConfirmed = false;
        this.showConnectionProblem();
        // After a server-side disconnect socket.io does not retry by itself.
        if (reason === "io server disconnect") this.retryLater();
      });
      socket.on("connect_error", () => {
        if (this.socket !== socket) return;
        this.showConnectionProblem();
        if (!socket.active) this.retryLater();
      });
    }

    // The conversation this browser holds the token of, or a new one.
    requestSession() {
      this.sessionConfirmed = false;
      if (!this.socket) {
        this.connect();
        return;
      }
      if (!this.socket.connected) return; // "connect" asks once the socket is up
      const { sessionId, token } = this.state;
      this.socket.emit("session_request", token ? { session_id: sessionId, token } : {});
    }

    onSessionConfirmed(data) {
      const sessionId = typeof data === "string" ? data : data && data.session_id;
      if (!sessionId) return;
      this.sessionConfirmed = true;
      this.setState({ sessionId, token: (data && data.token) || null });
      this.parts.notice.replaceChildren();
      if (!this.state.started) this.startConversation();
      for (const message of this.outbox.splice(0)) this.emitMessage(message);
    }

    // Messages wait until Rasa has confirmed the session (its reply goes to the session's room).
    deliver(message) {
      if (this.sessionConfirmed) this.emitMessage(message);
      else this.outbox.push(message);
    }

    emitMessage(message) {
      this.socket.emit("user_uttered", { message, session_id: this.state.sessionId });
    }

    retryLater() {
      clearTimeout(this.retryTimer);
      const delay = Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** this.retries++);
      this.retryTimer = setTimeout(() => this.socket && this.socket.connect(), delay);
    }

    showConnectionProblem() {
      this.hideTyping();
      if (this.parts.notice.childNodes.length) return; // already shown: announce once per outage
      const notice = element("p", "chat-notice");
      notice.append(
        element("strong", "", "The symptom checker can't be reached right now. "),
        "Trying again… If you need help now, call ",
        telLink(this.config.emergencyNumber, this.config.emergencyNumber),
        " in an emergency"
      );
      if (this.config.clinicPhone) {
        notice.append(" or the clinic on ", telLink(this.config.clinicPhone, this.config.clinicPhone));
      }
      notice.append(".");
      this.parts.notice.append(notice);
    }
  }

  const root = document.getElementById("clinic-chat");
  if (root) new ChatWidget(root);
})();
