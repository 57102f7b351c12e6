// Events view: recordings grouped by day, newest first, with filters, infinite scroll and
// new events arriving without a reload.

import { api, ApiError, beforeTime, cursorOf, pageUrl, startOf } from "./api.js";
import { h, icon, setText } from "./dom.js";
import { dayBounds, dayKey, dayLabel, duration, localTime, percent } from "./format.js";

const PAGE_SIZE = 24;
const POLL_MS = 5000;

function eventLabel(event) {
  const start = startOf(event);
  const length = event.ended_at ? duration(event.duration_s) : "still recording";
  return `Play clip from ${event.camera}, ${dayLabel(dayKey(start))} ${localTime(start)}, ${length}`;
}

function eventCard(event, onOpen) {
  const thumb = h("img", { src: pageUrl(event.thumbnail_url).href, alt: "", loading: "lazy",
                           decoding: "async", width: 320, height: 180 });
  const frame = h("span", { class: "thumb" }, thumb,
    h("span", { class: "thumb-fallback" }, icon("film")),
    h("span", { class: "pill pill-rec", hidden: Boolean(event.ended_at) }, "REC"),
    h("span", { class: "thumb-duration" }, event.ended_at ? duration(event.duration_s) : "…"));
  thumb.addEventListener("error", () => frame.classList.add("broken"), { once: true });
  const start = startOf(event);
  const button = h("button", { class: "card", type: "button", "aria-label": eventLabel(event),
                               onclick: () => onOpen(event.id) },
    frame,
    h("span", { class: "card-meta" },
      h("span", { class: "card-time" }, localTime(start)),
      h("span", { class: "card-camera" }, event.camera),
      h("span", { class: "card-peak", title: "Peak motion" }, percent(event.peak_delta))));
  return h("li", { class: "card-item", dataset: { id: event.id } }, button);
}

export class EventsView {
  constructor(root, store, player) {
    this.root = root;
    this.store = store;
    this.player = player;
    this.events = new Map(); // id -> event
    this.cards = new Map(); // id -> <li>
    this.sections = new Map(); // day key -> {section, list}
    this.active = false;
    this.loading = false;
    this.exhausted = false;
    this.generation = 0; // bumped on filter change so stale responses are ignored
    this.pollTimer = 0;
    this.cursor = null;
    this.#build();
    store.addEventListener("change", () => this.#renderCameraOptions());
    player.addEventListener("deleted", (e) => this.#remove(e.detail.id));
  }

  #build() {
    this.cameraSelect = h("select", { id: "filter-camera", name: "camera",
                                      onchange: () => this.reload() },
      h("option", { value: "" }, "All cameras"));
    this.dayInput = h("input", { id: "filter-day", type: "date", name: "day",
                                 max: dayKey(Date.now()), onchange: () => this.reload() });
    this.clearDay = h("button", { class: "button ghost", type: "button", hidden: true,
                                  onclick: () => { this.dayInput.value = ""; this.reload(); } },
      "All days");
    this.summary = h("p", { class: "summary", role: "status", "aria-live": "polite" });
    this.list = h("div", { class: "days" });
    this.message = h("p", { class: "empty", hidden: true });
    this.retry = h("button", { class: "button", type: "button", hidden: true,
                               onclick: () => this.loadMore() }, "Try again");
    this.more = h("button", { class: "button load-more", type: "button", hidden: true,
                              onclick: () => this.loadMore() }, "Load more");
    this.sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
    this.root.append(
      h("form", { class: "toolbar", role: "search", "aria-label": "Filter recordings",
                  onsubmit: (e) => e.preventDefault() },
        h("div", { class: "field-inline" }, h("label", { for: "filter-camera" }, "Camera"),
          this.cameraSelect),
        h("div", { class: "field-inline" }, h("label", { for: "filter-day" }, "Day"), this.dayInput),
        this.clearDay),
      this.summary, this.list, this.message, this.retry, this.more, this.sentinel);
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && this.active) this.loadMore();
    }, { rootMargin: "600px" }).observe(this.sentinel);
  }

  #renderCameraOptions() {
    const names = this.store.cameras.map((camera) => camera.name);
    const current = [...this.cameraSelect.options].slice(1).map((option) => option.value);
    if (names.join("\n") === current.join("\n")) return;
    const selected = this.cameraSelect.value;
    this.cameraSelect.replaceChildren(h("option", { value: "" }, "All cameras"),
      ...names.map((name) => h("option", { value: name }, name)));
    this.cameraSelect.value = names.includes(selected) ? selected : "";
  }

  setActive(active) {
    this.active = active;
    clearTimeout(this.pollTimer);
    if (!active) return;
    this.dayInput.max = dayKey(Date.now());
    if (!this.events.size && !this.exhausted) this.loadMore();
    else this.#poll();
  }

  /** Start over with the current filters. */
  reload() {
    this.generation += 1;
    this.events.clear();
    this.cursor = null; // the last event of the last page: where the next page starts
    this.cards.clear();
    this.sections.clear();
    this.list.replaceChildren();
    this.exhausted = false;
    this.loading = false;
    this.clearDay.hidden = !this.dayInput.value;
    this.loadMore();
  }

  #filters() {
    const day = this.dayInput.value;
    return { camera: this.cameraSelect.value || undefined, day: day ? dayBounds(day) : null };
  }

  /** The next page: events older than the oldest one shown. */
  async loadMore() {
    if (this.loading || this.exhausted) return;
    this.loading = true;
    const generation = this.generation;
    const { camera, day } = this.#filters();
    const before = this.cursor ? cursorOf(this.cursor) : day ? beforeTime(day[1]) : undefined;
    this.#showState("loading");
    let failed = false;
    try {
      const page = await api.events({ camera, limit: PAGE_SIZE, before });
      if (generation !== this.generation) return;
      const inDay = day ? page.filter((e) => startOf(e) >= day[0] && startOf(e) < day[1]) : page;
      inDay.forEach((event) => this.#upsert(event));
      this.cursor = page.at(-1) ?? this.cursor;
      this.exhausted = page.length < PAGE_SIZE || inDay.length < page.length;
      this.#showState("idle");
    } catch (error) {
      if (generation !== this.generation) return;
      failed = true;
      this.#showState("error", error);
    } finally {
      if (generation === this.generation) this.loading = false;
    }
    this.#schedulePoll();
    // keep filling while the sentinel is still on screen (tall screens, small pages)
    if (!failed && !this.exhausted && this.active && this.#sentinelVisible()) this.loadMore();
  }

  #sentinelVisible() {
    const box = this.sentinel.getBoundingClientRect();
    return box.top < innerHeight + 600 && this.root.offsetParent !== null;
  }

  #schedulePoll() {
    clearTimeout(this.pollTimer);
    if (this.active) this.pollTimer = setTimeout(() => this.#poll(), POLL_MS);
  }

  /** Newest page again: adds new events, updates ones still recording. */
  async #poll() {
    const generation = this.generation;
    const { camera, day } = this.#filters();
    if (!day || day[1] > Date.now()) {
      try {
        const page = await api.events({ camera, limit: PAGE_SIZE,
                                        before: day ? beforeTime(day[1]) : undefined });
        if (generation !== this.generation) return;
        const inDay = day ? page.filter((e) => startOf(e) >= day[0]) : page;
        inDay.forEach((event) => this.#upsert(event, this.events.size > 0));
        // "Today" becomes "Yesterday" at midnight on a page left open
        for (const [key, { section }] of this.sections) setText(section.firstChild, dayLabel(key));
        if (!this.loading) this.#showState("idle");
      } catch {
        // shown by the header's connection status; try again next time
      }
    }
    this.#schedulePoll();
  }

  /** Add or refresh one event's card; `fresh` marks one that arrived by polling. */
  #upsert(event, fresh = false) {
    const known = this.events.get(event.id);
    this.events.set(event.id, event);
    this.player.updateEvent(event);
    if (known && known.ended_at === event.ended_at && known.thumbnail_url === event.thumbnail_url) {
      return;
    }
    const card = eventCard(event, (id) => this.player.open(id, this.#ordered()));
    const old = this.cards.get(event.id);
    this.cards.set(event.id, card);
    if (old) {
      old.replaceWith(card);
      return;
    }
    const key = dayKey(startOf(event));
    const { list } = this.#section(key);
    const next = [...list.children].find((li) => startOf(this.events.get(li.dataset.id)) < startOf(event));
    list.insertBefore(card, next ?? null);
    if (fresh) card.classList.add("fresh");
  }

  #section(key) {
    let entry = this.sections.get(key);
    if (entry) return entry;
    const heading = h("h2", { class: "day-title" }, dayLabel(key));
    const list = h("ul", { class: "cards", "aria-label": dayLabel(key) });
    entry = { section: h("section", { class: "day", dataset: { day: key } }, heading, list), list };
    this.sections.set(key, entry);
    const after = [...this.sections.keys()].sort().reverse();
    const nextKey = after[after.indexOf(key) + 1];
    this.list.insertBefore(entry.section, nextKey ? this.sections.get(nextKey).section : null);
    return entry;
  }

  #remove(id) {
    this.events.delete(id);
    const card = this.cards.get(id);
    this.cards.delete(id);
    if (!card) return;
    const list = card.parentElement;
    card.remove();
    if (list && !list.children.length) {
      const key = list.parentElement.dataset.day;
      list.parentElement.remove();
      this.sections.delete(key);
    }
    this.#showState("idle");
  }

  /** Event ids in display order, for the player's previous/next. */
  #ordered() {
    return [...this.list.querySelectorAll(".card-item")].map((li) => li.dataset.id);
  }

  #showState(state, error) {
    const count = this.events.size;
    this.message.dataset.state = state;
    this.retry.hidden = state !== "error";
    this.more.hidden = state !== "idle" || this.exhausted || count === 0;
    let text = "";
    if (state === "error") {
      text = error instanceof ApiError && error.status === 404
        ? "This server does not keep recordings yet."
        : `Could not load recordings: ${error?.message ?? error}`;
    } else if (state === "idle" && count === 0) {
      text = this.dayInput.value || this.cameraSelect.value
        ? "No recordings match these filters."
        : "No recordings yet. Clips appear here as soon as motion is detected.";
    }
    this.message.hidden = !text;
    setText(this.message, text);
    this.root.setAttribute("aria-busy", String(state === "loading"));
    const summary = count === 0 ? "" : `${count}${this.exhausted ? "" : "+"} ${count === 1 ? "clip" : "clips"}`;
    setText(this.summary, summary);
  }
}
