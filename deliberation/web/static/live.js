// The live stream of a page, and forms that submit in place. One module for every live page (docs/web.md, "Live pages").
//
// A page declares what it follows in a data block (not a script: no code is run from it):
//   <script type="application/json" id="live-config">{"session": "<id>", "after": <as_of_seq of the page>,
//     "events": {"post.created": {"when": {"thread_id": "<id>"}, "fragment": "/…/posts/{id}",
//                                 "insert": {"into": ["replies-{parent_id}", "posts"], "at": "end"},
//                                 "announce": "New post by {author.display_name}"}, …},
//     "presence": {"target": "online", "one": "1 online", "other": "{n} online"},
//     "new_posts": "new-posts", "log": "live-log", "status": "live-status"}</script>
// An event may have a list of rules (each applied in turn). `{name}` in a template is a field of the event's data (dotted for nested ones); a rule whose template names a
// missing or null field is skipped, and so is an event whose data differs from `when`.
//
// Each event (seq > the last applied, in order, one at a time) fetches its fragment (HTML of one element with an
// id, rendered by the same template as the page; without `insert`, possibly several, each swapped for its
// namesake) and swaps it for the element with that id, or inserts it where
// `insert` says: into the first `into` whose fields the event has (none: the rule is skipped; not on the page:
// nothing to do, the element comes with the part of the page that holds it), at its `start` or `end`; while the
// element `unless` names is on the page (`More posts`: that end of the list is not loaded) it is only announced. Elements marked `data-live-keep` (forms, lists of replies that update on their own) are moved
// from the old element into the new one, so a form being typed into is never touched; `data-live-keep="edited"`
// keeps one only once something in it was changed (or has the focus), else the fresh copy replaces it. After a
// drop the stream reconnects with backoff and `after=<last applied seq>`: nothing missed, nothing applied twice.
// It asks for `batch=true`: the frames pending at once come in one message, one per line (docs/api.md), and
// for `presence=delta`: who came and went, not the whole list, after the first.
//
// Forms marked `data-live-submit` are sent with fetch (header `X-Live-Submit`): the server answers 204 (the
// change then arrives by the stream), 200 with an element drawn again, which replaces the one with its id (a
// post's reaction buttons, their counts at once), or 422 with the form again (its errors next to their fields),
// which replaces the form. Without JavaScript they are ordinary forms (POST, then redirect).
//
// A link marked `data-live-more="<list id>"` (`More posts`, in an element with an id) brings the list's next part
// from the page it links to: the items of that page's list that are not here yet are appended, and its own
// `More posts` element (or none, at the end) replaces this one. It waits its turn behind the events being applied,
// and the events after it apply to what it brought, so nothing is missed. Without JavaScript the link opens that page.
//
// A permalink (`?post=<id>#post-<id>`) to a post on the page scrolls to it (every collapsed branch around it
// opened); a `#post-<id>` not on the page loads the page that holds it (`?post=`).
//
// A link marked `data-live-form="<name>"` (a post's `Reply`, `Edit`, ...) brings the form of the page it links to
// into the slot of its article (`data-live-slot`, kept by live updates) instead of going there; using it again
// hides or shows that form, what was typed kept. Once sent, a brought form is removed
// (the next use brings it fresh). Without JavaScript the link opens the form's page.

const STOP_CODES = new Set([4400, 4401, 4403, 4404, 1008]); // refused: reconnecting cannot help

function field(data, path) {
  return path.split(".").reduce((value, key) => (value == null ? undefined : value[key]), data);
}

function fill(template, data) {
  let missing = false;
  const text = template.replace(/\{([\w.]+)\}/g, (_, path) => {
    const value = field(data, path);
    if (value == null) missing = true;
    return String(value);
  });
  return missing ? null : text;
}

function matches(when, data) {
  return Object.entries(when || {}).every(([key, value]) => field(data, key) === value);
}

// Events, and lists' next parts, are applied one at a time, in the order they came.
let queue = Promise.resolve();
function enqueue(task) {
  queue = queue.then(task).catch(() => undefined);
  return queue;
}

function parseAll(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return [...template.content.children];
}

function parse(html) {
  return parseAll(html)[0] ?? null;
}

function isKept(element, root) {
  for (let node = element.parentElement; node && node !== root; node = node.parentElement) {
    if (node.hasAttribute("data-live-keep")) return true;
  }
  return false;
}

// Whether a person has changed anything in `element` since it was drawn (or is in it now).
function edited(element) {
  if (element.contains(document.activeElement)) return true;
  const selector = "input, textarea, select";
  const fields = [...element.querySelectorAll(selector), ...(element.matches(selector) ? [element] : [])];
  return fields.some((input) => {
    if (input instanceof HTMLSelectElement) return [...input.options].some((o) => o.selected !== o.defaultSelected);
    if (input.type === "checkbox" || input.type === "radio") return input.checked !== input.defaultChecked;
    return input.value !== input.defaultValue;
  });
}

// Put `fresh` where `old` is, keeping what `old` holds in its data-live-keep elements (those marked
// data-live-keep="edited" only once someone typed into them or is in them: else the fresh one is newer).
export function swap(old, fresh) {
  const keeps = [...old.querySelectorAll("[data-live-keep][id]")].filter(
    (keep) => !isKept(keep, old) && (keep.dataset.liveKeep !== "edited" || edited(keep)),
  );
  const focused = old.contains(document.activeElement) ? document.activeElement.id : null;
  for (const details of old.querySelectorAll("details[id][open]")) {
    fresh.querySelector(`details#${CSS.escape(details.id)}`)?.setAttribute("open", ""); // what the reader opened
  }
  for (const select of old.querySelectorAll("select[id][data-live-value]")) { // what the reader chose in it
    const twin = fresh.querySelector(`select#${CSS.escape(select.id)}`);
    if (twin && [...twin.options].some((option) => option.value === select.value)) twin.value = select.value;
  }
  for (const keep of keeps) {
    const slot = fresh.querySelector(`#${CSS.escape(keep.id)}`);
    if (slot) slot.replaceWith(keep);
  }
  old.replaceWith(fresh);
  if (focused && !document.activeElement?.id) document.getElementById(focused)?.focus({ preventScroll: true });
}

function inView(element) {
  const box = element.getBoundingClientRect();
  return box.top < window.innerHeight && box.bottom > 0;
}

export function start(config) {
  const root = document.documentElement;
  let last = config.after;
  let attempt = 0;
  let socket = null;
  let stopped = false;
  const element = (id) => (id ? document.getElementById(id) : null);
  const status = (state) => {
    root.dataset.live = state; // "connecting", "open", "closed", "refused"
    const target = element(config.status);
    if (target && config.states?.[state]) target.textContent = config.states[state];
  };

  async function apply(rule, data) {
    const url = rule.fragment && fill(rule.fragment, data);
    if (!url) return;
    let into = null;
    if (rule.insert) {
      const name = (rule.insert.into || []).map((template) => fill(template, data)).find(Boolean);
      into = element(name);
      if (!into) return; // its place is not on the page: it comes with the part of the page that holds it
    }
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return; // gone or no longer visible to this viewer: nothing to show
    const elements = parseAll(await response.text()).filter((fresh) => fresh.id);
    if (!into) {
      for (const fresh of elements) { // one element, or several (every open vote's tally): each for its namesake
        const old = document.getElementById(fresh.id);
        if (old) swap(old, fresh);
      }
      return;
    }
    const fresh = elements[0];
    if (!fresh) return;
    const old = document.getElementById(fresh.id);
    if (old) {
      swap(old, fresh);
      return;
    }
    const held = Boolean(element(rule.insert.unless)); // that end of the list is still to load: it comes with it
    if (!held && rule.insert.at === "start") into.prepend(fresh);
    else if (!held) into.append(fresh);
    const text = rule.announce && fill(rule.announce, data);
    const log = element(config.log);
    if (text && log) {
      const line = document.createElement("p");
      line.textContent = text;
      log.append(line);
      while (log.childElementCount > 20) log.firstElementChild.remove();
    }
    const marker = element(config.new_posts);
    if (marker && !held && !inView(fresh)) {
      if (marker.hidden) marker.href = `#${fresh.id}`; // the first of the posts it announces
      marker.hidden = false;
    }
  }

  async function handle(frame) {
    if (frame.type === "presence" || frame.type === "presence_delta") { // both say how many are online now
      const target = element(config.presence?.target);
      if (target) {
        const words = frame.online === 1 ? config.presence.one : config.presence.other;
        target.textContent = fill(words, { n: frame.online });
      }
      return;
    }
    if (frame.type !== "event" || frame.seq <= last) return; // a replayed event already applied
    if (frame.seq > last + 1) {
      socket?.close(); // a gap is never expected; resume from what was applied
      return;
    }
    for (const rule of [config.events[frame.event] || []].flat()) {
      if (!matches(rule.when, frame.data)) continue;
      try {
        await apply(rule, frame.data);
      } catch (error) {
        socket?.close(); // the fragment could not be fetched: resume from here, after a pause
        throw error;
      }
    }
    last = frame.seq;
    root.dataset.liveSeq = String(last);
  }

  function connect() {
    status("connecting");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}/api/sessions/${config.session}/live?after=${last}&batch=true&presence=delta`;
    const current = new WebSocket(url);
    socket = current;
    current.onopen = () => {
      attempt = 0;
      status("open");
    };
    current.onmessage = (message) => {
      // `batch=true`: the frames pending at once come in one message, one JSON frame per line.
      for (const line of message.data.split("\n")) {
        const frame = JSON.parse(line);
        enqueue(() => (socket === current ? handle(frame) : undefined));
      }
    };
    current.onclose = (event) => {
      if (socket !== current) return;
      socket = null;
      if (STOP_CODES.has(event.code) || stopped) {
        status("refused");
        return;
      }
      status("closed");
      const delay = Math.min(30000, 500 * 2 ** attempt) * (0.75 + Math.random() / 2);
      attempt += 1;
      // Reconnect only once every event received so far is applied, so `last` is where to resume.
      setTimeout(() => queue.then(connect), delay);
    };
  }

  root.dataset.liveSeq = String(last);
  // The `New posts` marker leads to the first post it announced; used, it has said what it had to.
  element(config.new_posts)?.addEventListener("click", (event) => {
    event.currentTarget.hidden = true;
  });
  window.deliberationLive = { close: () => socket?.close(), get seq() { return last; } };
  window.addEventListener("pagehide", () => {
    stopped = true;
    socket?.close();
  });
  connect();
}

// A form drawn again with its errors has what was typed as its fields' defaults: they become the first form's
// again (what was typed stays), so that once sent it resets to what it first held, not to the refused text.
function keepDefaults(form, fresh) {
  for (const field of fresh.querySelectorAll("textarea[id], input[id]:is([type=text], [type=number], :not([type]))")) {
    const first = form.querySelector(`#${CSS.escape(field.id)}`);
    if (!first) continue;
    const typed = field.value;
    field.defaultValue = first.defaultValue;
    field.value = typed;
  }
}

// Once sent, a form no longer shows the errors of an earlier, refused try.
function clearErrors(form) {
  for (const error of form.querySelectorAll(".error")) error.remove();
  for (const field of form.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
  }
}

async function submit(event) {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-live-submit")) return;
  event.preventDefault();
  const button = event.submitter;
  const body = new FormData(form, button);
  form.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(form.getAttribute("action") || location.href, {
      method: "POST",
      body: new URLSearchParams(body),
      credentials: "same-origin",
      headers: { "X-Live-Submit": "1" },
    });
    if (response.status === 422) {
      const fresh = parse(await response.text());
      if (fresh) {
        if (form.dataset.liveForm) fresh.dataset.liveForm = form.dataset.liveForm;
        keepDefaults(form, fresh);
        form.replaceWith(fresh);
        fresh.querySelector("[aria-invalid=true]")?.focus();
      }
      return;
    }
    if (response.status === 200) {
      // An element drawn again with what changed, for the one with its id (a post's reaction buttons: the new
      // counts at once; the stream's reactions.updated is coalesced); the button used keeps the focus.
      const fresh = parse(await response.text());
      const old = fresh?.id ? document.getElementById(fresh.id) : null;
      if (old) {
        const focused = button && old.contains(document.activeElement);
        old.replaceWith(fresh);
        const used = button?.value.slice(0, button.value.lastIndexOf(":") + 1); // "<post>:<kind>:"
        if (focused) fresh.querySelector(`button[value^="${used}"]`)?.focus();
      }
      return;
    }
    if (!response.ok) {
      form.removeAttribute("data-live-submit"); // let the server's page say what went wrong
      form.requestSubmit(button);
      return;
    }
    if (form.parentElement?.hasAttribute("data-live-slot")) {
      form.remove();
    } else if (form.hasAttribute("data-live-reset")) {
      form.reset();
      clearErrors(form);
      const details = form.closest("details");
      if (details) details.open = false;
    }
  } finally {
    form.removeAttribute("aria-busy");
  }
}

function focusFirstField(form) {
  form.querySelector("textarea, select, input:not([type=hidden])")?.focus();
}

async function bringForm(event) {
  const link = event.target instanceof Element ? event.target.closest("a[data-live-form]") : null;
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const slot = link.closest("article")?.querySelector("[data-live-slot]");
  if (!slot) return;
  event.preventDefault();
  const name = link.dataset.liveForm;
  const shown = [...slot.children].find((form) => form.dataset.liveForm === name);
  if (shown) {
    shown.hidden = !shown.hidden;
    if (!shown.hidden) focusFirstField(shown);
    return;
  }
  const response = await fetch(link.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (!response.ok) {
    location.assign(link.href); // let the form's page say what is wrong
    return;
  }
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const form = page.querySelector("[data-live-form-source] > form");
  if (!form || [...slot.children].some((other) => other.dataset.liveForm === name)) return; // a double click
  form.dataset.liveForm = name;
  slot.append(document.adoptNode(form));
  focusFirstField(form);
}

async function loadMore(link) {
  const here = link.closest("[id]");
  const list = document.getElementById(link.dataset.liveMore);
  if (!here || !list || here.getAttribute("aria-busy")) return; // already on its way
  here.setAttribute("aria-busy", "true");
  let page;
  try {
    const response = await fetch(link.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) {
      location.assign(link.href); // let the page say what is wrong
      return;
    }
    page = new DOMParser().parseFromString(await response.text(), "text/html");
  } finally {
    here.removeAttribute("aria-busy");
  }
  const items = [...(page.getElementById(list.id)?.children || [])].filter((item) => !document.getElementById(item.id));
  list.append(...items.map((item) => document.adoptNode(item)));
  const next = page.getElementById(here.id);
  if (next) here.replaceWith(document.adoptNode(next));
  else here.remove();
  const first = items[0]?.querySelector("article");
  if (first) {
    first.tabIndex = -1; // the reader goes on from the first item it brought
    first.focus({ preventScroll: true });
  }
}

function more(event) {
  const link = event.target instanceof Element ? event.target.closest("a[data-live-more]") : null;
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  enqueue(() => loadMore(link));
}

// A permalink opens every collapsed branch around its post; one to a post not on this page loads the page of it.
function reveal() {
  const id = location.hash.length > 1 ? decodeURIComponent(location.hash.slice(1)) : "";
  const target = id ? document.getElementById(id) : null;
  const post = /^post-([0-9a-f-]{36})$/.exec(id)?.[1];
  if (!target && post && new URLSearchParams(location.search).get("post") !== post) {
    location.replace(`${location.pathname}?post=${post}${location.hash}`);
    return;
  }
  if (!target) return;
  for (let node = target.parentElement; node; node = node.parentElement) {
    if (node instanceof HTMLDetailsElement) node.open = true;
  }
  target.scrollIntoView();
}

// A post's permalink (its time) to a post on this page stays on the page: nothing typed is lost.
function stay(event) {
  const link = event.target instanceof Element ? event.target.closest("a[href*='#post-']") : null;
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href);
  if (url.pathname !== location.pathname || !document.getElementById(decodeURIComponent(url.hash.slice(1)))) return;
  event.preventDefault();
  if (location.hash === url.hash) reveal();
  else location.hash = url.hash;
}

document.addEventListener("submit", submit);
document.addEventListener("click", bringForm);
document.addEventListener("click", more);
document.addEventListener("click", stay);
window.addEventListener("hashchange", reveal);
reveal();
const block = document.getElementById("live-config");
if (block) start(JSON.parse(block.textContent));
