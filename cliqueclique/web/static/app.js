// cliqueclique web UI: the little JavaScript the pages use. Every page works without it;
// this adds live updates, in-place replies and actions, search as you type.
"use strict";

(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const me = document.querySelector('meta[name="node-id"]')?.content || "";
  const main = document.querySelector("main");
  const thread = main?.dataset.thread || null;
  const toast = document.getElementById("toast");
  let toastTimer = null;

  function say(text) {
    if (!toast) return;
    toast.textContent = text;
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toast.hidden = true; }, 4000);
  }

  async function getHTML(url) {
    const response = await fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
    if (!response.ok) return null;
    return { html: await response.text(), container: response.headers.get("X-Container") };
  }

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content;
  }

  // --- thread: refresh or insert one post --------------------------------------------------
  const pending = new Map();

  function refreshPost(id) {
    if (!thread || pending.has(id)) return;
    // Coalesce bursts (a reply brings a document, a link and a subscription at once).
    pending.set(id, setTimeout(() => { pending.delete(id); loadPost(id); }, 30));
  }

  // A note being written survives the post's refresh (someone reacting, editing meanwhile).
  function keepNote(old, next) {
    const open = old.querySelector("details.note-edit[open]");
    const fresh = next.querySelector("details.note-edit");
    if (open && fresh) fresh.replaceWith(open);
  }

  async function loadPost(id) {
    const got = await getHTML(`/t/${thread}/p/${id}`);
    if (!got) return;
    const fresh = parse(got.html);
    const existing = document.getElementById(`d-${id}`);
    if (id === thread) {
      const own = fresh.getElementById(`o-${id}`);
      const old = document.getElementById(`o-${id}`);
      if (own && old) { keepNote(old, own); old.replaceWith(own); }
      return;
    }
    const post = fresh.getElementById(`d-${id}`);
    if (!post) return;
    if (existing) {
      for (const selector of [":scope > summary", ":scope > .own"]) {
        const next = post.querySelector(selector);
        const old = existing.querySelector(selector);
        if (next && old) { keepNote(old, next); old.replaceWith(next); }
      }
      existing.className = post.className;
      return;
    }
    const container = got.container && got.container !== thread
      ? document.querySelector(`#d-${got.container} > .replies`) : document.getElementById("replies");
    if (!container) return;
    post.classList.add("live-new");
    container.appendChild(post);
    document.getElementById("no-replies")?.remove();
    const count = document.getElementById("reply-count");
    if (count) count.textContent = String(document.querySelectorAll("details.post").length);
  }

  function onThreadEvent(ev) {
    const shown = (id) => id && (id === thread || document.getElementById(`d-${id}`));
    if (ev.kind === "link" && shown(ev.parent)) {
      refreshPost(ev.child);
      refreshPost(ev.parent);
    } else if (ev.kind === "deletion" && ev.target && ev.target !== ev.network) {
      document.querySelector(`[data-link="${CSS.escape(ev.target)}"]`)?.remove();
      if (shown(ev.network)) refreshPost(ev.network);
    } else if (["document", "edit", "deletion", "reaction"].includes(ev.kind) && shown(ev.network)) {
      refreshPost(ev.network);
    } else if (ev.kind === "moderation" && ev.network === main?.dataset.forum) {
      onModeration(ev);
    }
  }

  // A hide names the post; a ban names an author, whose shown posts all change. Anything else
  // (moderators, policy, members) changes the buttons and the panel: say so, do not reload
  // under someone who may be typing.
  function onModeration(ev) {
    if (ev.action === "hide" || ev.action === "unhide") {
      if (document.getElementById(`d-${ev.target}`)) refreshPost(ev.target);
    } else if (ev.action === "ban" || ev.action === "unban") {
      for (const post of document.querySelectorAll(`[data-author="${CSS.escape(ev.target || "")}"]`)) {
        refreshPost(post.id.slice(2));
      }
    } else if (ev.author !== me) {
      say("The forum's moderation changed. Reload to see it.");
    }
  }

  // --- pages that re-read themselves ---------------------------------------------------------
  let homeTimer = null;

  function refreshHome() {
    clearTimeout(homeTimer);
    homeTimer = setTimeout(async () => {
      const got = await getHTML("/fragment/home");
      const lists = document.getElementById("home-lists");
      if (got && lists) lists.innerHTML = got.html;
    }, 150);
  }

  for (const box of document.querySelectorAll("[data-refresh]")) {
    const every = Number(box.dataset.every || 3000);
    setInterval(async () => {
      if (document.hidden) return;
      const got = await getHTML(box.dataset.refresh);
      if (got) box.innerHTML = got.html;
    }, every);
  }

  // --- live events ---------------------------------------------------------------------------
  const dot = document.getElementById("livedot");
  if (document.body.dataset.live && window.EventSource) {
    const source = new EventSource("/live");
    let lost = false;
    source.onopen = () => {
      if (dot) { dot.hidden = false; dot.classList.remove("off"); dot.title = "live"; }
      // Events sent while the stream was down are not replayed: say so rather than pretend.
      if (lost) say("Connection to your node restored. Reload to catch up on anything missed.");
      lost = false;
      // The home page was rendered before the stream opened: a forum that arrived
      // in between (a join answered within milliseconds) sent its event to nobody.
      if (main?.dataset.home) refreshHome();
    };
    source.onerror = () => {
      lost = true;
      if (dot) { dot.classList.add("off"); dot.title = "reconnecting…"; }
    };
    source.onmessage = (message) => {
      let ev;
      try { ev = JSON.parse(message.data); } catch { return; }
      if (thread) onThreadEvent(ev);
      // Reactions change nothing the home page lists.
      if (main?.dataset.home && !["subscription", "reaction"].includes(ev.kind)) refreshHome();
      if (main?.dataset.home && ev.kind === "subscription" && ev.author === me) refreshHome();
    };
  }

  // The id of the post an element belongs to (posts are #d-<id>, the opening one included).
  function postOf(element) {
    const post = element.closest("details.post, article.opening");
    return post ? post.id.slice(2) : null;
  }

  // --- reply boxes at any level ----------------------------------------------------------------
  const template = document.getElementById("reply-template");

  function openReply(parent) {
    const slot = document.getElementById(`compose-${parent}`);
    if (!slot || !template) return false;
    if (!slot.querySelector("form")) {
      const form = template.content.firstElementChild.cloneNode(true);
      form.action = `/d/${parent}/reply`;
      const cancel = form.querySelector(".cancel");
      cancel.hidden = false;
      cancel.addEventListener("click", () => form.remove());
      slot.appendChild(form);
    }
    const post = document.getElementById(`d-${parent}`);
    if (post && post.tagName === "DETAILS") post.open = true;
    slot.querySelector("textarea")?.focus();
    return true;
  }

  document.addEventListener("click", async (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const reply = target.closest(".reply-btn");
    if (reply && thread) {
      if (openReply(postOf(reply))) event.preventDefault();
      return;
    }
    const fold = target.closest("[data-fold]");
    if (fold) {
      for (const d of document.querySelectorAll("details.post")) d.open = fold.dataset.fold === "open";
      return;
    }
    const copy = target.closest("[data-copy]");
    if (copy) {
      const input = document.querySelector(copy.dataset.copy);
      input?.select();
      try { await navigator.clipboard.writeText(input.value); say("Copied"); } catch { say("Press Ctrl+C to copy"); }
      return;
    }
    const button = target.closest("button[form='act']");
    if (button) {
      event.preventDefault();
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      await act(button);
    }
  });

  // Actions on posts go through fetch: the page keeps its place and the post refreshes itself.
  async function act(button) {
    const body = new FormData(document.getElementById("act"));
    if (button.name) body.set(button.name, button.value);
    button.disabled = true;
    try {
      const response = await fetch(button.formAction, {
        method: "POST", body, credentials: "same-origin",
        headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrf },
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) { say(data.error || `Refused (${response.status})`); return; }
      const doc = postOf(button);
      if (thread && doc) refreshPost(doc);
      else location.reload();
    } catch (error) {
      say("The node did not answer: is it still running?");
    } finally {
      button.disabled = false;
    }
  }

  // Without a script the reply link reloads the page with the box open: keep that box in view.
  if (location.hash.startsWith("#compose-")) {
    document.getElementById(location.hash.slice(1))?.querySelector("textarea")?.focus();
  }

  // --- directory search as you type -------------------------------------------------------------
  const prefix = document.getElementById("dir-prefix");
  if (prefix) {
    let timer = null;
    let asked = "";
    prefix.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const value = prefix.value;
        asked = value;
        const got = await getHTML(`${prefix.dataset.source}?prefix=${encodeURIComponent(value)}`);
        if (got && asked === value) document.querySelector(prefix.dataset.results).innerHTML = got.html;
        history.replaceState(null, "", `?prefix=${encodeURIComponent(value)}`);
      }, 120);
    });
  }
})();
