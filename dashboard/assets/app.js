// The localtasks dashboard: a snapshot from api/snapshot, kept up to date by
// the server-sent events of api/events. Every text from the server goes into
// the page through textContent or an attribute, never as markup.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const ACTIONS = document.body.dataset.actions === "true";
  const REFRESH_MS = 15000; // a full snapshot this often, to catch up on missed events
  const SOON_MS = 400; // a snapshot this soon after a run starts or finishes, for the workers
  const SAMPLE_MS = 900; // the least time between two of the page's throughput samples
  const GAP_MS = 5000; // a throughput interval longer than this spans a time nobody watched
  const FINISHED_KEEP = 500; // finished runs kept in the page beyond those of a snapshot
  const WINDOW_MS = 10 * 60 * 1000; // the throughput chart's span
  const LOGS_MS = 2000; // how often the detail loads the logs of its run again while it runs

  const $ = (id) => document.getElementById(id);

  const state = {
    runs: new Map(), // id -> Task
    backends: [], // the last snapshot's backends
    snapAt: 0, // the server's time of the last snapshot, in ms
    latest: 0, // the server's time of the newest finish the page knows of, in ms
    stats: null, // the last stats event
    samples: new Map(), // backend name -> [{at, finished}], the page's throughput samples
    filter: { status: "", task: "", key: "", tag: "", meta: "" },
    loaded: false, // a snapshot of the page shown has arrived
    page: 0, // the page of runs shown: 0 is the first, kept live
    cursors: [null], // for each page, the cursor of each backend that has runs on it (null: the first page)
    next: {}, // the cursors of the page after the one shown, by backend
    detailId: "",
    opener: null, // what to focus when the detail closes
    loading: null, // events that arrived while a snapshot was loading
  };

  // ---- small helpers ----

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // timeText shows the time of day alone for today, else the date too.
  function timeText(d) {
    const time = d.toLocaleTimeString();
    return d.toDateString() === new Date().toDateString() ? time : d.toLocaleDateString() + " " + time;
  }

  function timeEl(iso) {
    if (!iso) return el("span", "—");
    const t = el("time", timeText(new Date(iso)));
    t.dateTime = iso;
    t.title = new Date(iso).toLocaleString();
    return t;
  }

  function setTime(node, iso) {
    clear(node);
    node.appendChild(timeEl(iso));
  }

  function bytes(n) {
    if (!n) return "—";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? String(n) : n.toFixed(1)) + " " + units[i];
  }

  function json(v) {
    return v === null || v === undefined ? "null" : JSON.stringify(v, null, 2);
  }

  function finished(status) {
    return status === "SUCCESSFUL" || status === "FAILED" || status === "CANCELLED";
  }

  function say(text) {
    $("message").textContent = text;
  }

  function setLive(text) {
    const live = $("live");
    if (live.textContent !== text) live.textContent = text;
    live.dataset.state = text === "live" ? "live" : "down";
  }

  async function errorText(res) {
    try {
      const body = await res.json();
      if (body && body.error) return body.error;
    } catch (_) {
      // not JSON: fall through
    }
    return res.status + " " + res.statusText;
  }

  // ---- tags and metadata ----

  // The tag and metadata filters live in the page's URL too (?tag=x,
  // ?meta=key=value, as api/snapshot takes them), so that a link to the
  // runs of a tag works: tagFilterFromURL reads them as the page opens,
  // keepTagFilterInURL writes them back as they change.
  function tagFilterFromURL() {
    const q = new URLSearchParams(location.search);
    state.filter.tag = (q.get("tag") || "").trim();
    state.filter.meta = (q.get("meta") || "").trim();
    $("tag-filter").value = state.filter.tag;
    $("meta-filter").value = state.filter.meta;
  }

  function keepTagFilterInURL() {
    const q = new URLSearchParams(location.search);
    for (const name of ["tag", "meta"]) {
      if (state.filter[name]) q.set(name, state.filter[name]);
      else q.delete(name);
    }
    const s = q.toString();
    window.history.replaceState(null, "", location.pathname + (s ? "?" + s : "") + location.hash);
  }

  // tagsMatch says whether run t has the tag and the metadata pair the
  // filters ask for, as the server decides: for the runs events bring.
  function tagsMatch(t) {
    if (state.filter.tag && !(t.tags || []).includes(state.filter.tag)) return false;
    if (state.filter.meta) {
      const i = state.filter.meta.indexOf("=");
      if (i <= 0) return false;
      const m = t.metadata || {};
      const k = state.filter.meta.slice(0, i);
      if (!Object.prototype.hasOwnProperty.call(m, k) || m[k] !== state.filter.meta.slice(i + 1)) return false;
    }
    return true;
  }

  // tagLink is a chip for tag: a link to the runs of that tag.
  function tagLink(tag) {
    const a = el("a", tag, "chip");
    a.href = "?" + new URLSearchParams({ tag: tag }).toString();
    a.title = "Show the runs tagged " + tag;
    a.dataset.tag = tag;
    return a;
  }

  // fillChips shows run t's tags as chips after its task's link in td.
  function fillChips(td, t) {
    const tags = t.tags || [];
    const now = tags.join("\n");
    let box = td.querySelector(".chips");
    if (box && box.dataset.tags === now) return;
    if (box) box.remove();
    if (!tags.length) return;
    box = el("span", "", "chips");
    box.dataset.tags = now;
    for (const tag of tags) box.appendChild(tagLink(tag));
    td.appendChild(box);
  }

  // onChip filters the runs by the tag of the chip clicked, in place: its
  // link, for a new tab, goes to the same view.
  function onChip(e) {
    const chip = e.target.closest("a.chip");
    if (!chip || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    state.filter.tag = chip.dataset.tag;
    $("tag-filter").value = chip.dataset.tag;
    keepTagFilterInURL();
    if (state.page > 0) showPage(0);
    else {
      render();
      refresh();
    }
  }

  // renderTagsDetail shows run t's tags and metadata in its detail.
  function renderTagsDetail(t) {
    const tags = $("detail-tags");
    tags.replaceChildren();
    if (t.tags && t.tags.length) for (const tag of t.tags) tags.append(tagLink(tag), " ");
    else tags.textContent = "—";
    const meta = $("detail-metadata");
    meta.replaceChildren();
    const keys = Object.keys(t.metadata || {}).sort();
    if (!keys.length) {
      meta.textContent = "—";
      return;
    }
    const dl = el("dl", "", "meta-pairs");
    for (const k of keys) dl.append(el("dt", k), el("dd", t.metadata[k]));
    meta.appendChild(dl);
  }

  // ---- the runs ----

  function statuses() {
    return state.filter.status ? state.filter.status.split(",") : [];
  }

  function matches(t) {
    const ss = statuses();
    return (
      (ss.length === 0 || ss.includes(t.status)) &&
      (!state.filter.task || t.task === state.filter.task) &&
      (!state.filter.key || t.key === state.filter.key) &&
      tagsMatch(t)
    );
  }

  // Group order: running, queued, scheduled, finished.
  const RANK = { RUNNING: 0, READY: 1, SCHEDULED: 2 };

  function compareRuns(a, b) {
    const ra = RANK[a.status] ?? 3;
    const rb = RANK[b.status] ?? 3;
    if (ra !== rb) return ra - rb;
    const by = (x, y) => timeKey(x).localeCompare(timeKey(y));
    switch (ra) {
      case 0:
        return by(a.last_attempted_at, b.last_attempted_at);
      case 1:
        return b.priority - a.priority || by(a.enqueued_at, b.enqueued_at);
      case 2:
        return by(a.run_after, b.run_after);
      default:
        return by(b.finished_at, a.finished_at);
    }
  }

  // timeKey makes a time of the server's sort as a string: RFC 3339 with
  // the fraction of a second padded to nanoseconds (Go leaves out its
  // trailing zeros, and "05.1Z" would sort after "05.12Z").
  function timeKey(iso) {
    if (!iso) return "";
    const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(iso);
    return m ? m[1] + "." + (m[2] || "").padEnd(9, "0") + m[3] : iso;
  }

  // stale reports whether t is older news than what the page has of its
  // run: a run never leaves its final status, so an unfinished t of a
  // finished run is (an action's answer can come after the run's events).
  function stale(t, runs) {
    const have = runs.get(t.id);
    return have !== undefined && finished(have.status) && !finished(t.status);
  }

  // applyTask records news of a run, and returns what the page now has of it.
  // On a page after the first, only the runs it lists are kept up to
  // date: the news of others belongs to the first.
  function applyTask(t) {
    if (t.finished_at) state.latest = Math.max(state.latest, Date.parse(t.finished_at));
    if (state.page > 0 && !state.runs.has(t.id)) return t;
    if (state.loading) state.loading.push(t);
    if (!stale(t, state.runs)) state.runs.set(t.id, t);
    return state.runs.get(t.id);
  }

  // trim forgets the oldest finished runs beyond FINISHED_KEEP.
  function trim() {
    const done = [...state.runs.values()].filter((t) => finished(t.status));
    if (done.length <= FINISHED_KEEP) return;
    done.sort(compareRuns);
    for (const t of done.slice(FINISHED_KEEP)) {
      if (t.id !== state.detailId) state.runs.delete(t.id);
    }
  }

  let refreshes = 0;
  let loads = 0; // refreshes in flight
  let soon = 0; // the timer of refreshSoon
  let again = false; // a refresh was asked for while one loaded
  let loadMs = 0; // how long the last snapshot took to load

  // refreshSoon asks for a snapshot shortly, for what only snapshots tell
  // (the workers) after a run started or finished. However many events
  // come, one refresh waits and one loads at most, and they come no closer
  // together than SOON_MS, or five times what a snapshot takes to load:
  // on a busy page, snapshots take a sixth of its time at most.
  function refreshSoon() {
    if (document.hidden) return; // refreshed when the page is shown again
    if (loads) {
      again = true; // the one loading may have missed the news
      return;
    }
    if (!soon) soon = setTimeout(refresh, Math.max(SOON_MS, 5 * loadMs));
  }

  async function refresh() {
    const seq = ++refreshes; // only the newest refresh counts
    clearTimeout(soon); // this one brings the news
    soon = 0;
    loads++;
    const began = performance.now();
    if (!state.loading) state.loading = [];
    const page = state.page;
    try {
      const snap = await loadPage();
      if (seq !== refreshes) return;
      const runs = new Map();
      for (const b of snap.backends) {
        for (const list of [b.running, b.queued, b.scheduled, b.finished]) {
          for (const t of list) runs.set(t.id, t);
        }
        for (const t of b.finished) if (t.finished_at) state.latest = Math.max(state.latest, Date.parse(t.finished_at));
      }
      // Events that came while the snapshot loaded are as new as it, or newer.
      for (const t of state.loading) if (!stale(t, runs) && (page === 0 || runs.has(t.id))) runs.set(t.id, t);
      state.runs = runs;
      state.loaded = true;
      state.next = {};
      for (const b of snap.backends) if (b.next_cursor) state.next[b.name] = b.next_cursor;
      state.backends = snap.backends;
      state.snapAt = Date.parse(snap.at);
      sample(state.snapAt, snap.backends);
      const detail = state.detailId && runs.get(state.detailId);
      if (detail) renderDetail(detail);
      render();
    } catch (err) {
      if (seq === refreshes) say("Could not load the runs: " + err.message);
    } finally {
      if (seq === refreshes) state.loading = null;
      loadMs = performance.now() - began;
      if (--loads === 0 && again) {
        again = false;
        refreshSoon();
      }
    }
  }

  function snapshotURL(extra) {
    const q = new URLSearchParams();
    if (state.filter.status) q.set("status", state.filter.status);
    if (state.filter.task) q.set("task", state.filter.task);
    if (state.filter.key) q.set("key", state.filter.key);
    if (state.filter.tag) q.set("tag", state.filter.tag);
    if (state.filter.meta) q.set("meta", state.filter.meta);
    for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
    const s = q.toString();
    return "api/snapshot" + (s ? "?" + s : "");
  }

  async function getJSON(url) {
    const res = await fetch(url, { headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(await errorText(res));
    return res.json();
  }

  // loadPage loads the page of runs shown: the first in one snapshot of
  // every backend; a later one in a snapshot of each backend that had more,
  // from its cursor. A backend whose runs ended on an earlier page keeps
  // its overview (workers, counters), with no runs.
  async function loadPage() {
    const cursors = state.cursors[state.page];
    if (!cursors) return getJSON(snapshotURL());
    const names = Object.keys(cursors);
    const snaps = await Promise.all(names.map((name) => getJSON(snapshotURL({ backend: name, cursor: cursors[name] }))));
    const got = new Map(snaps.map((s) => [s.backends[0].name, s.backends[0]]));
    const none = (b) => Object.assign({}, b, { queued: [], scheduled: [], running: [], finished: [], next_cursor: "" });
    const at = Math.max(...snaps.map((s) => Date.parse(s.at)));
    return { at: new Date(at).toISOString(), backends: state.backends.map((b) => got.get(b.name) || none(b)) };
  }

  // showPage shows page n of the runs, 0 the first; a filter's change
  // goes back to the first.
  function showPage(n) {
    if (n === 0) state.cursors = [null];
    else if (n > state.page) state.cursors[n] = state.next;
    state.cursors.length = n + 1;
    state.page = n;
    state.runs = new Map();
    state.loaded = false;
    render();
    refresh();
  }

  // workerNews moves a run between its backend's workers as its event
  // tells, until the next snapshot says for sure: a running run is on the
  // worker of its latest attempt, and a worker it left finished an attempt.
  function workerNews(t) {
    const b = state.backends.find((b) => b.name === t.backend);
    if (!b) return;
    const on = t.status === "RUNNING" ? t.worker_ids[t.worker_ids.length - 1] : "";
    for (const w of b.workers) {
      const i = w.running.indexOf(t.id);
      if (w.id === on) {
        if (i < 0) w.running.push(t.id);
      } else if (i >= 0) {
        w.running.splice(i, 1);
        w.tasks_done++;
      }
    }
  }

  // ---- rendering ----

  let pending = false;

  function render() {
    if (pending) return;
    pending = true;
    const run = () => {
      pending = false;
      renderTasks();
      renderMore();
      renderCounters();
      renderThroughput();
      renderWorkers();
      renderQueues();
      renderStrikes();
    };
    if (document.hidden || !window.requestAnimationFrame) setTimeout(run, 100);
    else requestAnimationFrame(run);
  }

  const rows = new Map(); // id -> tr

  function renderTasks() {
    trim();
    const shown = [...state.runs.values()].filter(matches).sort(compareRuns);
    const tbody = $("tasks").tBodies[0];
    const keep = new Set(shown.map((t) => t.id));
    for (const [id, tr] of rows) {
      if (!keep.has(id)) {
        tr.remove();
        rows.delete(id);
      }
    }
    shown.forEach((t, i) => {
      let tr = rows.get(t.id);
      if (!tr) {
        tr = newRow(t.id);
        rows.set(t.id, tr);
      }
      fillRow(tr, t);
      // Move only rows out of place, so that a focused row keeps its focus.
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
    });
    $("tasks-count").textContent = shown.length === 1 ? "1 run." : shown.length + " runs.";
    const empty = $("tasks-empty");
    empty.textContent = state.loaded ? "No runs match the filters." : "Loading…";
    empty.hidden = state.loaded && shown.length > 0;
    renderTaskNames();
  }

  // renderMore says how many runs each backend holds, by the counts every
  // snapshot brings, and offers the pages of runs beyond the first where a
  // backend has more that match than a page lists.
  function renderMore() {
    const parts = [];
    for (const b of state.backends) {
      const c = b.counts;
      if (!c) continue;
      parts.push(
        b.name + ": " + c.ready + " ready, " + c.scheduled + " scheduled, " + c.running + " running, " +
          (c.successful + c.failed + c.cancelled) + " finished kept",
      );
    }
    $("tasks-more-text").textContent = parts.length ? "In all: " + parts.join("; ") + "." : "";
    const older = state.loaded && Object.keys(state.next).length > 0;
    $("tasks-older").hidden = !older;
    $("tasks-newer").hidden = state.page === 0;
    $("tasks-page").textContent =
      state.page === 0
        ? older
          ? "Page 1 (live)"
          : ""
        : "Page " + (state.page + 1) + (state.loaded && !older ? ", the last" : "");
  }

  const CELLS = ["id", "task", "args", "status", "backend", "queue", "priority", "attempts", "progress", "enqueued", "finished"];

  function newRow(id) {
    const tr = document.createElement("tr");
    tr.dataset.id = id;
    tr.tabIndex = -1; // focusable for Enter, but not a tab stop: its link is
    for (const c of CELLS) tr.appendChild(el("td", "", c));
    const code = el("code", id.slice(0, 8));
    code.title = id;
    const copy = el("button", "Copy", "copy");
    copy.type = "button";
    copy.setAttribute("aria-label", "Copy the ID " + id);
    tr.cells[0].append(code, " ", copy);
    const a = el("a");
    a.href = "#task=" + encodeURIComponent(id);
    tr.cells[1].appendChild(a);
    tr.cells[2].appendChild(el("code"));
    return tr;
  }

  function fillRow(tr, t) {
    const [, task, args, status, backend, queue, priority, attempts, progress, enqueued, done] = tr.cells;
    const a = task.firstChild;
    if (a.textContent !== t.task) a.textContent = t.task;
    a.setAttribute("aria-label", t.task + ", " + t.status.toLowerCase() + ", run " + t.id.slice(0, 8));
    const summary = t.args_summary ?? JSON.stringify(t.args);
    if (args.firstChild.textContent !== summary) args.firstChild.textContent = summary;
    status.textContent = t.status;
    status.dataset.status = t.status;
    backend.textContent = t.backend;
    queue.textContent = t.queue;
    priority.textContent = t.priority;
    attempts.textContent = t.attempts;
    fillProgress(progress, t);
    fillChips(task, t);
    setTime(enqueued, t.enqueued_at);
    setTime(done, t.finished_at);
  }

  // copyText puts text on the clipboard, by the Clipboard API where the
  // page may use it, else by a selection and the copy command, and says
  // how it went on button.
  async function copyText(text, button) {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch (_) {
      // refused (no focus, no permission): try the other way
    }
    if (!ok) {
      const area = el("textarea", text, "offscreen");
      area.readOnly = true;
      document.body.appendChild(area);
      area.select();
      try {
        ok = document.execCommand("copy");
      } catch (_) {
        ok = false;
      }
      area.remove();
    }
    say(ok ? "Copied the ID " + text + "." : "Could not copy the ID: select it in the run's details, and copy it.");
    button.textContent = ok ? "Copied" : "Copy";
    setTimeout(() => (button.textContent = "Copy"), 1500);
  }

  function fillProgress(td, t) {
    const p = t.progress;
    if (!p) {
      clear(td);
      return;
    }
    let bar = td.querySelector("progress");
    if (!bar) {
      clear(td);
      bar = document.createElement("progress");
      td.appendChild(bar);
    }
    setProgress(bar, p);
    bar.setAttribute("aria-label", "Progress of " + t.task + ": " + progressText(p));
    bar.title = progressText(p);
  }

  function setProgress(bar, p) {
    if (p.total > 0) {
      bar.max = p.total;
      bar.value = Math.min(p.done, p.total);
    } else {
      bar.max = 1;
      bar.removeAttribute("value"); // no total: indeterminate
    }
  }

  function progressText(p) {
    let s = p.total > 0 ? p.done + " of " + p.total : String(p.done);
    if (p.message) s += " — " + p.message;
    return s;
  }

  let taskNames = "";

  function renderTaskNames() {
    const names = [...new Set([...state.runs.values()].map((t) => t.task))].sort();
    const key = names.join("\n");
    if (key === taskNames) return;
    taskNames = key;
    const list = $("task-names");
    clear(list);
    for (const n of names) {
      const o = document.createElement("option");
      o.value = n;
      list.appendChild(o);
    }
  }

  const COUNTERS = ["enqueued", "started", "succeeded", "failed", "retried", "cancelled", "struck", "perpetuated", "queue_full"];

  // The counters and the server's throughput come from the newest of the
  // last snapshot and the last stats event.
  function liveBackends() {
    const st = state.stats;
    if (st && Date.parse(st.at) >= state.snapAt) return st.backends;
    return state.backends.map((b) => ({ name: b.name, counters: b.counters, throughput: b.throughput }));
  }

  // nowMs is the server's time of the newest news, in ms.
  function nowMs() {
    const st = state.stats ? Date.parse(state.stats.at) : 0;
    return Math.max(st, state.snapAt, state.latest) || Date.now();
  }

  // FINAL maps a final status to the counter of the runs that reached it.
  const FINAL = { SUCCESSFUL: "succeeded", FAILED: "failed", CANCELLED: "cancelled" };

  function renderCounters() {
    // The runs' events come as they happen, the counters each second: a
    // backend finished at least as many runs as the page saw finish.
    const seen = new Map();
    for (const t of state.runs.values()) {
      const c = FINAL[t.status];
      if (!c) continue;
      if (!seen.has(t.backend)) seen.set(t.backend, { succeeded: 0, failed: 0, cancelled: 0 });
      seen.get(t.backend)[c]++;
    }
    const tbody = $("counters").tBodies[0];
    clear(tbody);
    for (const b of liveBackends()) {
      const tr = document.createElement("tr");
      const th = el("th", b.name);
      th.scope = "row";
      tr.appendChild(th);
      const s = seen.get(b.name) || {};
      for (const c of COUNTERS) tr.appendChild(el("td", Math.max(b.counters[c], s[c] || 0)));
      tbody.appendChild(tr);
    }
  }

  // sample records, at the server's time at, how many runs each backend
  // had finished: every stats event (each second) and snapshot brings one,
  // so that the chart has the page's own points, a second apart, besides
  // those the server sampled before the page opened.
  function sample(at, backends) {
    for (const b of backends) {
      const c = b.counters;
      let list = state.samples.get(b.name);
      if (!list) state.samples.set(b.name, (list = []));
      const last = list[list.length - 1];
      if (last && at - last.at < SAMPLE_MS) continue;
      list.push({ at, finished: c.succeeded + c.failed + c.cancelled });
      while (list.length > 2 && at - list[1].at > WINDOW_MS) list.shift();
    }
  }

  // intervals returns a backend's throughput as intervals {from, to, rate}
  // of the rate of finishes, oldest first, up to end: from the finished
  // runs themselves when the page has every one (see history), else from
  // the samples, the server's from before the page's first, then the
  // page's own.
  function intervals(b, end) {
    const exact = history(b, end);
    if (exact) return exact;
    const own = state.samples.get(b.name) || [];
    const first = own.length > 1 ? own[0].at : Infinity; // the server's, until the page has a point
    const out = [];
    let prev = 0;
    for (const p of b.throughput) {
      const at = Date.parse(p.at);
      if (at > first) break;
      out.push({ from: prev || at - 1000, to: at, rate: p.per_second }); // a point is the rate since the sample before
      prev = at;
    }
    for (let k = 1; k < own.length; k++) {
      const a = own[k - 1], z = own[k];
      const done = z.finished >= a.finished ? z.finished - a.finished : z.finished; // or the backend started afresh
      out.push({ from: a.at, to: z.at, rate: (done * 1000) / (z.at - a.at) });
    }
    return out;
  }

  // history returns the intervals of a second, up to end, in which the
  // backend's runs finished, counted from their finished_at: exact, and
  // there from the first run on, even when nobody watched. It returns null
  // unless the page has every run the backend finished (none evicted, or
  // forgotten by trim, or left out by a filter): then the samples must do.
  function history(b, end) {
    if (state.filter.status || state.filter.task || state.filter.tag || state.filter.meta) return null;
    const c = b.counters;
    const times = [];
    for (const t of state.runs.values()) {
      if (t.backend === b.name && finished(t.status) && t.finished_at) times.push(Date.parse(t.finished_at));
    }
    // The counters can be a second older than the runs, not newer.
    if (times.length < c.succeeded + c.failed + c.cancelled) return null;
    const recent = times.filter((ms) => ms <= end && end - ms < WINDOW_MS);
    if (!recent.length) return null; // the samples show the quiet
    // A second per interval, back from end, and a quiet one before the first.
    const n = Math.ceil((end - Math.min(...recent)) / 1000) + 1;
    const counts = new Array(n).fill(0);
    for (const ms of recent) counts[Math.min(n - 1, Math.floor((end - ms) / 1000))]++;
    const out = [];
    for (let k = Math.min(n, WINDOW_MS / 1000) - 1; k >= 0; k--) {
      out.push({ from: end - (k + 1) * 1000, to: end - k * 1000, rate: counts[k] });
    }
    return out;
  }

  // The chart spans the shortest of these that holds every point.
  const SPANS = [10e3, 30e3, 60e3, 2 * 60e3, 5 * 60e3, WINDOW_MS];

  function fmtSpan(ms) {
    return ms < 60e3 ? ms / 1000 + " s" : ms / 60e3 + " min";
  }

  function spanWords(ms) {
    if (ms === 60e3) return "last minute";
    return ms < 60e3 ? "last " + ms / 1000 + " seconds" : "last " + ms / 60e3 + " minutes";
  }

  function renderThroughput() {
    const chart = $("throughput");
    // Drawn at the size it is shown, so that its text is the page's size.
    const box = chart.getBoundingClientRect();
    const W = Math.round(box.width) || 640, H = Math.round(box.height) || 180, L = 40, R = 10, T = 10, B = 22;
    chart.setAttribute("viewBox", "0 0 " + W + " " + H);
    for (const n of [...chart.childNodes]) {
      if (n.nodeName !== "title" && n.nodeName !== "desc") n.remove();
    }
    const end = nowMs();
    const backends = liveBackends().map((b) => ({ name: b.name, ivs: intervals(b, end) }));
    let oldest = end;
    for (const b of backends) if (b.ivs.length) oldest = Math.min(oldest, b.ivs[0].from);
    const span = SPANS.find((s) => end - oldest <= s) || WINDOW_MS;
    const start = end - span;
    let peak = 0;
    for (const b of backends) for (const iv of b.ivs) if (iv.to > start) peak = Math.max(peak, iv.rate);
    const top = niceCeil(peak);
    const x = (ms) => L + ((Math.max(ms, start) - start) / span) * (W - L - R);
    const y = (v) => H - B - (v / top) * (H - T - B);

    // Axes, grid and labels.
    chart.appendChild(svg("line", { x1: L, y1: y(top), x2: W - R, y2: y(top), class: "grid" }));
    chart.appendChild(svg("line", { x1: L, y1: y(top / 2), x2: W - R, y2: y(top / 2), class: "grid" }));
    chart.appendChild(svg("line", { x1: x(end - span / 2), y1: T, x2: x(end - span / 2), y2: H - B, class: "grid" }));
    chart.appendChild(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
    chart.appendChild(svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
    const label = (text, attrs) => {
      const t = svg("text", attrs);
      t.textContent = text;
      chart.appendChild(t);
    };
    label(fmtRate(top), { x: L - 4, y: y(top) + 4, "text-anchor": "end", class: "label" });
    label(fmtRate(top / 2), { x: L - 4, y: y(top / 2) + 4, "text-anchor": "end", class: "label" });
    label("0", { x: L - 4, y: H - B + 4, "text-anchor": "end", class: "label" });
    label(fmtSpan(span) + " ago", { x: L, y: H - 6, class: "label" });
    label(fmtSpan(span / 2) + " ago", { x: x(end - span / 2), y: H - 6, "text-anchor": "middle", class: "label" });
    label("now", { x: W - R, y: H - 6, "text-anchor": "end", class: "label" });
    $("throughput-span").textContent = spanWords(span);

    // A step line per backend: each interval at its rate. An interval
    // longer than GAP_MS, the average over a time nobody watched, is
    // dashed; the line breaks where the page missed samples.
    const parts = [];
    backends.forEach((b, i) => {
      const cls = "series-" + (i % 6);
      let pts = [];
      let lastTo = 0;
      const flush = (kind) => {
        if (pts.length < 2) {
          pts = [];
          return;
        }
        const line = pts.map(([px, py]) => px.toFixed(1) + "," + py.toFixed(1)).join(" ");
        const base = y(0).toFixed(1);
        const area = pts[0][0].toFixed(1) + "," + base + " " + line + " " + pts[pts.length - 1][0].toFixed(1) + "," + base;
        chart.appendChild(svg("polygon", { points: area, class: "area " + cls }));
        chart.appendChild(svg("polyline", { points: line, class: kind + " " + cls }));
        pts = [];
      };
      for (const iv of b.ivs) {
        if (iv.to <= start) continue;
        const long = iv.to - iv.from > GAP_MS;
        if (long || (lastTo && iv.from - lastTo > 1500)) flush("series");
        pts.push([x(iv.from), y(iv.rate)], [x(iv.to), y(iv.rate)]);
        if (long) flush("gap");
        lastTo = iv.to;
      }
      flush("series");
      const shown = b.ivs.filter((iv) => iv.to > start);
      const now = shown.length ? shown[shown.length - 1].rate : 0;
      const max = shown.reduce((m, iv) => Math.max(m, iv.rate), 0);
      b.now = shown.length ? fmtRate(now) + "/s" : "";
      parts.push(b.name + ": " + (shown.length ? fmtRate(now) + " per second now, peak " + fmtRate(max) : "no samples yet"));
    });
    $("throughput-desc").textContent = parts.length ? "Over the last " + fmtSpan(span) + ". " + parts.join("; ") + "." : "No samples yet.";
    renderLegend(backends);
  }

  function renderLegend(backends) {
    const legend = $("throughput-legend");
    clear(legend);
    backends.forEach((b, i) => {
      const key = el("span", "", "key series-" + (i % 6));
      key.setAttribute("aria-hidden", "true");
      const item = el("span", "", "legend-item");
      item.appendChild(key);
      item.appendChild(document.createTextNode(b.name + (b.now ? " " + b.now : "")));
      legend.appendChild(item);
    });
  }

  function niceCeil(v) {
    if (v <= 1) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function fmtRate(v) {
    if (v >= 10) return v.toFixed(0);
    return String(Number(v.toFixed(v >= 1 ? 1 : 2))); // 2.5, 1, 0.25, 0
  }

  function renderWorkers() {
    const tbody = $("workers").tBodies[0];
    clear(tbody);
    for (const b of state.backends) {
      for (const w of b.workers) {
        const tr = document.createElement("tr");
        tr.appendChild(el("td", b.name));
        const th = el("th", w.id);
        th.scope = "row";
        tr.appendChild(th);
        tr.appendChild(el("td", w.starting ? "starting" : w.pid || "—"));
        tr.appendChild(el("td", bytes(w.memory_bytes)));
        const running = el("td");
        w.running.forEach((id, i) => {
          if (i) running.appendChild(document.createTextNode(", "));
          const a = el("a", id.slice(0, 8));
          a.href = "#task=" + encodeURIComponent(id);
          a.setAttribute("aria-label", "run " + id);
          running.appendChild(a);
        });
        if (!w.running.length) running.textContent = "idle";
        tr.appendChild(running);
        tr.appendChild(el("td", w.tasks_done));
        tbody.appendChild(tr);
      }
    }
  }

  function strikeText(s) {
    const task = s.task || "any task";
    if (!s.field) return task;
    if (s.op === "between") return task + " where " + s.field + " between " + JSON.stringify(s.value) + " and " + JSON.stringify(s.upper);
    return task + " where " + s.field + " " + s.op + " " + JSON.stringify(s.value);
  }

  function renderStrikes() {
    const list = $("strikes");
    clear(list);
    let n = 0;
    for (const b of state.backends) {
      for (const s of b.strikes) {
        n++;
        const li = el("li", strikeText(s) + " (on " + b.name + ")");
        if (ACTIONS) {
          const btn = el("button", "Restore");
          btn.type = "button";
          btn.setAttribute("aria-label", "Restore: lift the strike " + strikeText(s) + " on " + b.name);
          btn.addEventListener("click", () => restoreStrike(s));
          li.appendChild(document.createTextNode(" "));
          li.appendChild(btn);
        }
        list.appendChild(li);
      }
    }
    $("strikes-empty").hidden = n > 0;
    const sel = $("strike-backend");
    if (sel && sel.options.length !== state.backends.length + 1) {
      while (sel.options.length > 1) sel.remove(1);
      for (const b of state.backends) {
        const o = el("option", b.name);
        o.value = b.name;
        sel.appendChild(o);
      }
    }
  }

  // ---- queues and pauses ----

  // pauseText describes a pause as localtasks.Pause.String does.
  function pauseText(p) {
    return p.queue ? 'queue "' + p.queue + '"' : 'task "' + p.task + '"';
  }

  function backendNamed(name) {
    return state.backends.find((b) => b.name === name);
  }

  let queuesKey = ""; // what renderQueues last drew

  // renderQueues draws each backend's queues and what is paused, with a
  // Pause or Resume button for each where the backend can pause. It draws
  // them again only when they change, so that a focused button keeps its
  // focus while the runs' news come.
  function renderQueues() {
    if (ACTIONS && state.detailId) {
      const t = state.runs.get(state.detailId);
      if (t) renderDetailPause(t);
    }
    const key = JSON.stringify(state.backends.map((b) => [b.name, b.pausable, b.queues, b.pauses]));
    if (key === queuesKey) return;
    queuesKey = key;
    const tbody = $("queues").tBodies[0];
    clear(tbody);
    const list = $("pauses");
    clear(list);
    let queues = 0;
    let pauses = 0;
    for (const b of state.backends) {
      for (const q of b.queues || []) {
        queues++;
        const tr = document.createElement("tr");
        tr.dataset.backend = b.name;
        tr.dataset.queue = q.name;
        tr.appendChild(el("td", b.name));
        const th = el("th", q.name);
        th.scope = "row";
        tr.appendChild(th);
        tr.appendChild(el("td", q.ready, "ready"));
        tr.appendChild(el("td", q.scheduled, "scheduled"));
        tr.appendChild(el("td", q.running, "running"));
        tr.appendChild(el("td", q.max_workers || "all", "max-workers"));
        const st = el("td", q.paused ? "paused" : "active", "state");
        st.dataset.paused = String(q.paused);
        tr.appendChild(st);
        if (ACTIONS) {
          const td = el("td", "", "action");
          if (b.pausable) td.appendChild(pauseButton({ backend: b.name, queue: q.name }, q.paused));
          tr.appendChild(td);
        }
        tbody.appendChild(tr);
      }
      for (const p of b.pauses || []) {
        pauses++;
        const li = el("li", pauseText(p) + " (on " + b.name + ")");
        li.dataset.backend = b.name;
        if (p.queue) li.dataset.queue = p.queue;
        else li.dataset.task = p.task;
        if (ACTIONS) {
          li.appendChild(document.createTextNode(" "));
          li.appendChild(pauseButton({ backend: b.name, queue: p.queue, task: p.task }, true));
        }
        list.appendChild(li);
      }
    }
    $("queues-empty").hidden = queues > 0;
    $("pauses-empty").hidden = pauses > 0;
  }

  // pauseButton is the button that pauses p, or resumes it if paused.
  function pauseButton(p, paused) {
    const btn = el("button", paused ? "Resume" : "Pause", paused ? "resume" : "pause");
    btn.type = "button";
    btn.setAttribute("aria-label", (paused ? "Resume " : "Pause ") + pauseText(p) + " on " + p.backend);
    btn.addEventListener("click", () => changePause(p, !paused));
    return btn;
  }

  // changePause pauses p (on), or resumes it.
  function changePause(p, on) {
    act(on ? "Pause" : "Resume", async () => {
      await post(on ? "api/pauses" : "api/pauses/resume", p);
      say(
        on
          ? "Paused " + pauseText(p) + " on " + p.backend + ": its runs wait, none cancelled, until it is resumed."
          : "Resumed " + pauseText(p) + " on " + p.backend + ": its runs start again.",
      );
      await refresh();
    });
  }

  // renderDetailPause offers to pause the detail's task on its backend, or
  // to resume it, where the backend can pause tasks (not only queues).
  function renderDetailPause(t) {
    const btn = $("detail-pause");
    const b = backendNamed(t.backend);
    btn.hidden = !b || !b.pausable_tasks;
    const paused = !!b && (b.pauses || []).some((p) => p.task === t.task);
    const text = (paused ? "Resume task " : "Pause task ") + t.task;
    if (btn.textContent !== text) btn.textContent = text;
    btn.dataset.paused = String(paused);
  }

  function pauseTask() {
    const t = state.runs.get(state.detailId);
    if (!t) return;
    changePause({ backend: t.backend, task: t.task }, $("detail-pause").dataset.paused !== "true");
  }

  // ---- the detail view ----

  function fragmentId() {
    const h = location.hash;
    return h.startsWith("#task=") ? decodeURIComponent(h.slice(6)) : "";
  }

  async function openDetail(id) {
    const section = $("detail");
    const changed = state.detailId !== id;
    state.detailId = id;
    section.hidden = false;
    const known = state.runs.get(id);
    logs.opening = id; // this load brings the run's logs: renderDetail waits for it
    if (known) renderDetail(known);
    else showMissing("Loading run " + id + "…");
    if (changed) $("detail-heading").focus();
    let resolved = id; // the whole ID, once the server said which run id begins the ID of
    try {
      const res = await fetch("api/results/" + encodeURIComponent(id), { headers: { Accept: "application/json" } });
      if (state.detailId !== id) return;
      if (!res.ok) {
        showMissing(await errorText(res));
        return;
      }
      const got = await res.json();
      if (got.id !== id) {
        // id was the first digits of the ID: show the whole one.
        state.detailId = resolved = got.id;
        if (fragmentId() === id) window.history.replaceState(null, "", "#task=" + encodeURIComponent(got.id));
      }
      if (logs.opening === id) logs.opening = "";
      showLogs(got);
      const t = applyTask(got);
      renderDetail(t);
      render();
    } catch (err) {
      if ((state.detailId === id || state.detailId === resolved) && !known) showMissing("Could not load run " + id + ": " + err.message);
    } finally {
      if (logs.opening === id) logs.opening = "";
    }
  }

  function showMissing(text) {
    const m = $("detail-missing");
    m.textContent = text;
    m.hidden = false;
    $("detail-heading").textContent = "Run";
    for (const n of $("detail").querySelectorAll("dl, .progress-line, .actions, h3, pre, ol, #detail-no-errors")) n.hidden = true;
    hideLogs();
  }

  function renderDetail(t) {
    const d = $("detail");
    $("detail-missing").hidden = true;
    for (const n of d.querySelectorAll("dl, .progress-line, .actions, h3, pre, ol")) n.hidden = false;
    $("detail-heading").textContent = "Run of " + t.task;
    $("detail-id").textContent = t.id;
    $("detail-task").textContent = t.task;
    $("detail-status").textContent = t.status;
    $("detail-status").dataset.status = t.status;
    $("detail-backend").textContent = t.backend;
    $("detail-queue").textContent = t.queue;
    $("detail-priority").textContent = t.priority;
    $("detail-key").textContent = t.key || "—";
    renderTagsDetail(t);
    $("detail-attempts").textContent = t.attempts;
    $("detail-workers").textContent = t.worker_ids.length ? t.worker_ids.join(", ") : "—";
    setTime($("detail-enqueued"), t.enqueued_at);
    setTime($("detail-run-after"), t.run_after);
    setTime($("detail-deadline"), t.deadline);
    setTime($("detail-started"), t.started_at);
    setTime($("detail-last-attempt"), t.last_attempted_at);
    setTime($("detail-finished"), t.finished_at);
    $("detail-cancel-reason").textContent = t.cancel_reason || "—";

    const bar = $("detail-progress");
    const text = $("detail-progress-text");
    if (t.progress) {
      setProgress(bar, t.progress);
      text.textContent = progressText(t.progress);
    } else {
      bar.max = 1;
      bar.value = 0;
      text.textContent = "none reported";
    }

    $("detail-args").textContent = json(t.args);
    $("detail-value").textContent = json(t.value);
    renderErrors(t.errors);
    if (ACTIONS) {
      $("detail-cancel").hidden = finished(t.status);
      $("detail-retry").hidden = !finished(t.status);
      renderDetailPause(t);
    }
    logsNews(t);
  }

  function renderErrors(errors) {
    const list = $("detail-errors");
    clear(list);
    for (const e of errors) {
      const li = document.createElement("li");
      const head = el("p", "", "error-head");
      head.appendChild(el("strong", "Attempt " + e.attempt));
      head.appendChild(document.createTextNode(", "));
      head.appendChild(timeEl(e.at));
      head.appendChild(document.createTextNode(", "));
      head.appendChild(el("code", e.type));
      li.appendChild(head);
      li.appendChild(el("p", e.message, "error-message"));
      if (e.stack) {
        const pre = el("pre", e.stack, "stack");
        pre.tabIndex = 0;
        pre.setAttribute("aria-label", "Stack of attempt " + e.attempt);
        li.appendChild(pre);
      }
      list.appendChild(li);
    }
    list.hidden = errors.length === 0;
    $("detail-no-errors").hidden = errors.length > 0;
  }

  // ---- the detail's logs ----

  // Only api/results/{id} carries a run's logs; its news in snapshots and
  // events carries their count alone (log_count), which only grows. The
  // detail shows the logs of its run's last load, and loads them again
  // when news counts more, and every LOGS_MS while the run runs (a record
  // makes no event). Every text of a record goes into the page as text.
  const logs = {
    id: "", // the run whose logs show; "" for none
    count: 0, // their log_count
    opening: "", // the ID openDetail is loading, logs and all
    busy: 0, // loads of the logs in flight
    timer: 0, // the next load while the run runs
  };

  // logsNews loads the logs of the detail's run t again where they may
  // have changed.
  function logsNews(t) {
    if (logs.id !== t.id) showLogsLoading(); // not another run's
    if (logs.opening || logs.busy) return; // a load in flight brings them
    if (logs.id !== t.id) {
      loadLogs(t.id);
    } else if ((t.log_count || 0) > logs.count) {
      loadLogs(t.id);
    } else if (t.status === "RUNNING" && !logs.timer && !document.hidden) {
      logs.timer = setTimeout(() => {
        logs.timer = 0;
        if (state.detailId === t.id) loadLogs(t.id);
      }, LOGS_MS);
    }
  }

  async function loadLogs(id) {
    clearTimeout(logs.timer);
    logs.timer = 0;
    logs.busy++;
    let got = null;
    try {
      const res = await fetch("api/results/" + encodeURIComponent(id), { headers: { Accept: "application/json" } });
      if (res.ok) got = await res.json();
    } catch (_) {
      // The next news of the run tries again.
    } finally {
      logs.busy--;
    }
    if (!got || state.detailId !== got.id) return;
    showLogs(got);
    renderDetail(applyTask(got));
  }

  function hideLogs() {
    logs.id = "";
    for (const id of ["detail-logs-dropped", "detail-logs-wrap", "detail-no-logs"]) $(id).hidden = true;
  }

  function showLogsLoading() {
    $("detail-logs-dropped").hidden = true;
    $("detail-logs-wrap").hidden = true;
    const none = $("detail-no-logs");
    none.textContent = "Loading the logs…";
    none.hidden = false;
  }

  // levelName is the class of a record's level, as "WARN+2" is a warn.
  function levelName(level) {
    const m = /^(DEBUG|INFO|WARN|ERROR)/.exec(level);
    return m ? m[1].toLowerCase() : "info";
  }

  // logTimeEl shows a record's time to the millisecond; the date too if
  // it is not today.
  function logTimeEl(iso) {
    const d = new Date(iso);
    const ms = String(d.getMilliseconds()).padStart(3, "0");
    const time = d.toLocaleTimeString([], { hour12: false }) + "." + ms;
    const t = el("time", d.toDateString() === new Date().toDateString() ? time : d.toLocaleDateString() + " " + time);
    t.dateTime = iso;
    t.title = d.toLocaleString();
    return t;
  }

  // showLogs shows the logs of t, a response of api/results/{id}: a body of
  // rows for each attempt, under a header that names it.
  function showLogs(t) {
    logs.id = t.id;
    logs.count = t.log_count || 0;
    const recs = t.logs || [];
    const table = $("detail-logs");
    for (const b of [...table.tBodies]) b.remove();
    let body = null;
    for (const r of recs) {
      if (!body || body.dataset.attempt !== String(r.attempt)) {
        body = table.createTBody();
        body.dataset.attempt = r.attempt;
        const th = el("th", "Attempt " + r.attempt);
        th.scope = "rowgroup";
        th.colSpan = 5;
        const head = body.insertRow();
        head.className = "attempt";
        head.appendChild(th);
      }
      const tr = body.insertRow();
      tr.className = "log";
      tr.dataset.level = levelName(r.level);
      tr.dataset.stream = r.stream;
      tr.insertCell().appendChild(logTimeEl(r.at));
      tr.insertCell().textContent = r.level;
      tr.insertCell().textContent = r.stream;
      const msg = tr.insertCell();
      msg.appendChild(el("span", r.message, "log-text"));
      if (r.cut) {
        const cut = el("span", "cut", "log-cut");
        cut.title = "The message was cut to a quarter of Config.RunLogs.MaxBytes";
        msg.appendChild(document.createTextNode(" "));
        msg.appendChild(cut);
      }
      const attrs = tr.insertCell();
      for (const a of r.attrs || []) {
        const span = el("span", "", "log-attr");
        span.appendChild(el("span", a.key, "log-key"));
        span.appendChild(document.createTextNode("="));
        span.appendChild(el("span", a.value, "log-value"));
        attrs.appendChild(span);
        attrs.appendChild(document.createTextNode(" "));
      }
      ["log-time", "log-level", "log-stream", "log-message", "log-attrs"].forEach((c, i) => (tr.cells[i].className = c));
    }
    $("detail-logs-wrap").hidden = recs.length === 0;
    const none = $("detail-no-logs");
    none.textContent = t.logs_dropped ? "No log records kept." : "No log records.";
    none.hidden = recs.length > 0;
    const dropped = $("detail-logs-dropped");
    const n = t.logs_dropped || 0;
    dropped.textContent = n + (n === 1 ? " record" : " records") +
      " dropped: Config.RunLogs keeps 200 records or 64 KiB a run by default; the earlier attempts' make room for the latest's, whose first records are kept.";
    dropped.hidden = n === 0;
  }

  function closeDetail() {
    if (!state.detailId) return;
    state.detailId = "";
    $("detail").hidden = true;
    clearTimeout(logs.timer);
    logs.timer = 0;
    logs.id = "";
    if (fragmentId()) window.history.replaceState(null, "", location.pathname + location.search);
    const back = state.opener && state.opener.isConnected ? state.opener : $("tasks-heading");
    state.opener = null;
    back.focus();
  }

  // activate opens the run of the row an event happened in: a click anywhere
  // on it, or Enter on it or on its link (the keyboard's way in).
  function activate(e) {
    const tr = e.target.closest("tr[data-id]");
    if (!tr || e.target.closest("a.chip")) return; // a tag's chip: see onChip
    const copy = e.target.closest("button.copy");
    if (copy) {
      if (e.type === "click") copyText(tr.dataset.id, copy);
      return;
    }
    state.opener = tr.querySelector("a");
    const id = tr.dataset.id;
    if (id === fragmentId()) {
      e.preventDefault(); // the fragment would not change: open it here
      openDetail(id);
    } else if (!e.target.closest("a")) {
      e.preventDefault();
      location.hash = "task=" + encodeURIComponent(id);
    } // else the link changes the fragment itself
  }

  function onHashChange() {
    const id = fragmentId();
    if (id) openDetail(id);
    else closeDetail();
  }

  // ---- actions ----

  async function post(path, body) {
    const res = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body || {}),
    });
    if (!res.ok) throw new Error(await errorText(res));
    return res.json();
  }

  async function act(what, f) {
    try {
      await f();
    } catch (err) {
      say(what + " failed: " + err.message);
    }
  }

  function cancelRun() {
    const id = state.detailId;
    act("Cancel", async () => {
      const t = applyTask(await post("api/results/" + encodeURIComponent(id) + "/cancel"));
      if (state.detailId === t.id) renderDetail(t);
      render();
      say("Cancelled run " + id + (finished(t.status) ? "." : "; it stops once its task returns."));
    });
  }

  function retryRun() {
    const id = state.detailId;
    act("Retry", async () => {
      const t = await post("api/results/" + encodeURIComponent(id) + "/retry");
      applyTask(t);
      render();
      say("Retried run " + id + " as run " + t.id + ".");
      location.hash = "task=" + encodeURIComponent(t.id);
    });
  }

  function strikeTask() {
    const t = state.runs.get(state.detailId);
    if (!t) return;
    act("Strike", async () => {
      await post("api/strikes", { backend: t.backend, task: t.task });
      say("Struck task " + t.task + " on " + t.backend + ": its runs will not start until it is restored.");
      await refresh();
    });
  }

  function restoreStrike(s) {
    act("Restore", async () => {
      await post("api/strikes/restore", s);
      say("Restored " + strikeText(s) + " on " + s.backend + ".");
      await refresh();
    });
  }

  // parseValue reads a strike value: JSON if it parses, else the text.
  function parseValue(text) {
    try {
      return JSON.parse(text);
    } catch (_) {
      return text;
    }
  }

  // showUpper shows the upper bound's input only for between.
  function showUpper() {
    const between = $("strike-op").value === "between";
    $("strike-upper").hidden = !between;
    document.querySelector('label[for="strike-upper"]').hidden = !between;
  }

  function submitStrike(ev) {
    ev.preventDefault();
    const s = { backend: $("strike-backend").value, task: $("strike-task").value.trim() };
    const field = $("strike-field").value.trim();
    if (field) {
      s.field = field;
      s.op = $("strike-op").value;
      s.value = parseValue($("strike-value").value);
      if (s.op === "between") s.upper = parseValue($("strike-upper").value);
    }
    act("Strike", async () => {
      await post("api/strikes", s);
      say("Struck " + strikeText(s) + ".");
      await refresh();
    });
  }

  // ---- events ----

  let source = null;

  function connect() {
    source = new EventSource("api/events");
    source.onopen = () => {
      setLive("live");
      refresh(); // catch up on what happened while disconnected
    };
    source.onerror = () => {
      setLive("reconnecting…");
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (say, a non-200 answer): try again later.
        setTimeout(connect, 5000);
      }
    };
    source.addEventListener("task", (e) => {
      const ev = JSON.parse(e.data);
      const t = applyTask(ev.task);
      if (ev.kind === "started" || ev.kind === "finished") {
        workerNews(t);
        refreshSoon();
      }
      if (t.id === state.detailId) renderDetail(t);
      render();
    });
    // The server coalesces the runs' news and caps them per flush: when it
    // left some out, a snapshot brings them.
    source.addEventListener("dropped", () => refreshSoon());
    source.addEventListener("stats", (e) => {
      state.stats = JSON.parse(e.data);
      sample(Date.parse(state.stats.at), state.stats.backends);
      render();
    });
  }

  // ---- wiring ----

  function init() {
    const tbody = $("tasks").tBodies[0];
    tbody.addEventListener("click", (e) => activate(e));
    tagFilterFromURL();
    tbody.addEventListener("click", onChip);
    $("detail").addEventListener("click", onChip);
    tbody.addEventListener("keydown", (e) => {
      if (e.key === "Enter") activate(e);
    });

    $("detail-close").addEventListener("click", closeDetail);
    $("detail").addEventListener("keydown", (e) => {
      if (e.key === "Escape") closeDetail();
    });

    $("filters").addEventListener("submit", (e) => e.preventDefault());
    $("tasks-older").addEventListener("click", () => showPage(state.page + 1));
    $("tasks-newer").addEventListener("click", () => showPage(state.page - 1));
    $("status-filter").addEventListener("change", (e) => {
      state.filter.status = e.target.value;
      if (state.page > 0) showPage(0);
      else {
        render();
        refresh();
      }
    });
    const typing = {}; // a timer for each input
    for (const name of ["task", "key", "tag", "meta"]) {
      $(name + "-filter").addEventListener("input", (e) => {
        clearTimeout(typing[name]);
        typing[name] = setTimeout(() => {
          state.filter[name] = e.target.value.trim();
          if (name === "tag" || name === "meta") keepTagFilterInURL();
          if (state.page > 0) showPage(0);
          else {
            render();
            refresh();
          }
        }, 250);
      });
    }
    $("id-search-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const id = $("id-search").value.trim();
      if (!id) return;
      if (/^[0-9a-fA-F-]*$/.test(id) && id.replace(/-/g, "").length < 8) {
        say('ID "' + id + '" is too short: give at least 8 hex digits of the ID (the part before its first dash).');
        return;
      }
      state.opener = $("id-search");
      if (fragmentId() === id) openDetail(id);
      else location.hash = "task=" + encodeURIComponent(id);
    });
    $("detail-copy").addEventListener("click", (e) => copyText(state.detailId, e.currentTarget));

    if (ACTIONS) {
      $("detail-cancel").addEventListener("click", cancelRun);
      $("detail-retry").addEventListener("click", retryRun);
      $("detail-strike").addEventListener("click", strikeTask);
      $("detail-pause").addEventListener("click", pauseTask);
      $("strike-form").addEventListener("submit", submitStrike);
      $("strike-op").addEventListener("change", showUpper);
      showUpper();
    }

    window.addEventListener("hashchange", onHashChange);
    if (window.ResizeObserver) {
      let width = 0;
      new ResizeObserver(([entry]) => {
        const w = Math.round(entry.contentRect.width);
        if (w !== width) {
          width = w;
          render();
        }
      }).observe($("throughput"));
    }
    setInterval(() => {
      if (!document.hidden) refresh();
    }, REFRESH_MS);
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) return;
      refresh();
      if (state.detailId && logs.id === state.detailId) loadLogs(state.detailId); // its polls stopped while hidden
    });

    refresh();
    connect();
    if (fragmentId()) openDetail(fragmentId());
  }

  init();
})();
