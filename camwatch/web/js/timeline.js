// Timeline view (#timeline, #timeline/<camera>, #timeline/<camera>/<YYYY-MM-DD>): a strip of
// one day with the footage on disk, events marked and motion activity as a curve; tap, drag or
// use the keys to seek; zoom from the day to minutes; export a selected range.

import { api, pageUrl, startOf } from "./api.js";
import { h, icon, setText } from "./dom.js";
import { dayBounds, dayKey, dayLabel, localTime } from "./format.js";
import { FootagePlayer } from "./footage.js";

const ZOOMS_S = [86400, 21600, 3600, 900, 300]; // a day down to five minutes
const REFRESH_MS = 10000;
const SVG = "http://www.w3.org/2000/svg";
const HOUR_MS = 3600 * 1000;
const MAX_EXPORT_MS = 24 * HOUR_MS;

const clamp = (value, low, high) => Math.min(high, Math.max(low, value));
const seconds = (ms) => (ms / 1000).toFixed(3);

export class TimelineView {
  constructor(root, store) {
    this.root = root;
    this.store = store;
    this.active = false;
    this.camera = null;
    this.day = dayKey(Date.now());
    this.zoom = 0;
    this.center = null; // ms at the middle of the visible window (null: the whole day)
    this.recordings = [];
    this.events = [];
    this.activity = [];
    this.selection = null; // {start, end} ms
    this.selecting = false;
    this.generation = 0;
    this.timer = 0;
    this.built = false; // built when first shown: its controls are not in the page before
    store.addEventListener("change", () => this.built && this.#renderCameras());
  }

  // -- structure -----------------------------------------------------------------------------

  #build() {
    this.cameraSelect = h("select", { id: "tl-camera", onchange: () => this.#go(this.cameraSelect.value, this.day) });
    this.dayInput = h("input", { id: "tl-day", type: "date", max: dayKey(Date.now()), required: true,
                                 onchange: () => this.dayInput.value && this.#go(this.camera, this.dayInput.value) });
    const button = (id, label, content, onclick, extra = {}) =>
      h("button", { id, class: "button", type: "button", "aria-label": label, onclick, ...extra }, content);
    this.liveButton = button("tl-live", "Go to the live edge", [icon("camera"), h("span", {}, "Live")],
      () => this.goLive(), { class: "button primary" });
    this.video = h("video", { id: "tl-video", controls: true, muted: true, playsinline: true,
                              "aria-label": "Recorded footage" });
    this.player = new FootagePlayer(this.video);
    this.player.addEventListener("time", () => this.#renderPlayhead());
    this.player.addEventListener("live-ended", () => this.load());
    this.video.addEventListener("timeupdate", () => this.#renderPlayhead());
    this.clock = h("p", { id: "tl-clock", class: "tl-clock", role: "status", "aria-live": "off" });
    this.message = h("p", { id: "tl-message", class: "tl-message", role: "status" });

    this.activityPath = document.createElementNS(SVG, "path");
    this.activityPath.setAttribute("class", "tl-activity-path");
    this.activitySvg = document.createElementNS(SVG, "svg");
    this.activitySvg.setAttribute("class", "tl-activity");
    this.activitySvg.setAttribute("viewBox", "0 0 1000 100");
    this.activitySvg.setAttribute("preserveAspectRatio", "none");
    this.activitySvg.setAttribute("aria-hidden", "true");
    this.activitySvg.append(this.activityPath);
    this.footageLayer = h("div", { class: "tl-layer tl-footage-layer", "aria-hidden": "true" });
    this.eventLayer = h("div", { class: "tl-layer tl-event-layer" });
    this.selectionBox = h("div", { class: "tl-selection", hidden: true, "aria-hidden": "true" });
    this.playhead = h("div", { class: "tl-playhead", hidden: true, "aria-hidden": "true" });
    this.ticks = h("div", { class: "tl-ticks", "aria-hidden": "true" });
    this.strip = h("div", { id: "tl-strip", class: "tl-strip", role: "slider", tabindex: 0,
                            "aria-label": "Timeline: tap or drag to seek, arrow keys step, + and − zoom",
                            "aria-valuemin": 0, "aria-valuemax": 86400, "aria-valuenow": 0 },
      this.footageLayer, this.activitySvg, this.selectionBox, this.eventLayer, this.playhead);
    this.#bindStrip();

    this.prevEvent = button("tl-prev-event", "Previous event", [icon("prev"), h("span", {}, "Event")],
      () => this.stepEvent(-1));
    this.nextEvent = button("tl-next-event", "Next event", [h("span", {}, "Event"), icon("next")],
      () => this.stepEvent(1));
    this.zoomOut = button("tl-zoom-out", "Zoom out", "−", () => this.setZoom(this.zoom - 1));
    this.zoomIn = button("tl-zoom-in", "Zoom in", "+", () => this.setZoom(this.zoom + 1));
    this.zoomLabel = h("span", { class: "tl-zoom-label", "aria-live": "polite" });

    this.selectToggle = button("tl-select", "Select a range to export", "Select",
      () => this.#toggleSelecting(), { "aria-pressed": "false" });
    this.markStart = button("tl-mark-start", "Mark the start of the export here", "Start here",
      () => this.#mark("start"));
    this.markEnd = button("tl-mark-end", "Mark the end of the export here", "End here",
      () => this.#mark("end"));
    this.selectionLabel = h("span", { id: "tl-selection-label", class: "tl-selection-label" });
    this.exportLink = h("a", { id: "tl-export", class: "button primary", hidden: true, download: "" },
      icon("download"), h("span", {}, "Download MP4"));

    this.root.append(
      h("form", { class: "toolbar tl-toolbar", "aria-label": "Timeline", onsubmit: (e) => e.preventDefault() },
        h("div", { class: "field-inline" }, h("label", { for: "tl-camera" }, "Camera"), this.cameraSelect),
        h("div", { class: "field-inline" }, h("label", { for: "tl-day" }, "Day"),
          h("div", { class: "tl-day" },
            button("tl-prev-day", "Previous day", icon("prev"), () => this.#shiftDay(-1),
              { class: "button ghost icon-only" }),
            this.dayInput,
            button("tl-next-day", "Next day", icon("next"), () => this.#shiftDay(1),
              { class: "button ghost icon-only" }))),
        this.liveButton),
      h("div", { class: "tl-video" }, this.video),
      this.clock,
      h("div", { class: "tl-strip-box" }, this.strip, this.ticks),
      h("div", { class: "tl-controls" }, this.prevEvent, this.zoomOut, this.zoomLabel, this.zoomIn,
        this.nextEvent),
      h("div", { class: "tl-export", role: "group", "aria-label": "Export a range" },
        this.selectToggle, this.markStart, this.markEnd, this.selectionLabel, this.exportLink),
      this.message);
  }

  #bindStrip() {
    let dragging = null;
    const timeAt = (e) => {
      const box = this.strip.getBoundingClientRect();
      const [start, end] = this.#window();
      return start + clamp((e.clientX - box.left) / box.width, 0, 1) * (end - start);
    };
    this.strip.addEventListener("pointerdown", (e) => {
      if (e.target.closest(".tl-event")) return;
      this.strip.setPointerCapture(e.pointerId);
      dragging = { from: timeAt(e) };
      if (this.selecting) this.#setSelection(dragging.from, dragging.from);
      else this.#previewAt(dragging.from);
    });
    this.strip.addEventListener("pointermove", (e) => {
      if (!dragging) return;
      if (this.selecting) this.#setSelection(dragging.from, timeAt(e));
      else this.#previewAt(timeAt(e));
    });
    const release = (e) => {
      if (!dragging) return;
      const at = timeAt(e);
      if (this.selecting) {
        this.#setSelection(dragging.from, at);
        this.#toggleSelecting(false);
      } else {
        this.seek(at);
      }
      dragging = null;
    };
    this.strip.addEventListener("pointerup", release);
    this.strip.addEventListener("pointercancel", () => { dragging = null; });
    this.strip.addEventListener("keydown", (e) => this.#onKey(e));
  }

  #onKey(e) {
    const step = e.shiftKey ? 60000 : 10000;
    const now = this.#playheadTime();
    const actions = {
      ArrowLeft: () => this.seek(now - step),
      ArrowRight: () => this.seek(now + step),
      PageUp: () => this.stepEvent(-1),
      PageDown: () => this.stepEvent(1),
      Home: () => this.seek(dayBounds(this.day)[0]),
      End: () => this.goLive(),
      "+": () => this.setZoom(this.zoom + 1),
      "=": () => this.setZoom(this.zoom + 1),
      "-": () => this.setZoom(this.zoom - 1),
      " ": () => (this.video.paused ? this.video.play().catch(() => {}) : this.video.pause()),
    };
    const action = actions[e.key];
    if (action) {
      e.preventDefault();
      action();
    }
  }

  // -- state -------------------------------------------------------------------------------

  setActive(active) {
    this.active = active;
    clearTimeout(this.timer);
    if (!this.built) return;
    if (!active) this.player.stop();
  }

  /** Show a camera's day (from the route); the first camera and today by default. */
  show(camera, day) {
    if (!this.built) {
      this.#build();
      this.built = true;
    }
    const name = camera || this.camera || this.store.cameras[0]?.name || null;
    const key = /^\d{4}-\d{2}-\d{2}$/.test(day ?? "") ? day : this.day;
    const changed = name !== this.camera || key !== this.day;
    this.camera = name;
    this.day = key;
    this.dayInput.value = key;
    this.dayInput.max = dayKey(Date.now());
    this.#renderCameras();
    document.title = `Timeline · ${name ?? ""} · camwatch`;
    if (changed || !this.loaded) {
      this.center = null;
      this.selection = null;
      this.player.stop();
      this.#renderSelection();
    }
    this.load();
  }

  #go(camera, day) {
    location.hash = `#timeline/${encodeURIComponent(camera ?? "")}/${day}`;
  }

  #shiftDay(direction) {
    const [start, end] = dayBounds(this.day);
    const next = dayKey(direction < 0 ? start - 1 : end + 1);
    if (next <= dayKey(Date.now())) this.#go(this.camera, next);
  }

  get isToday() {
    return this.day === dayKey(Date.now());
  }

  /** Recordings, events and activity of the day (again every few seconds while it is today). */
  async load() {
    clearTimeout(this.timer);
    if (!this.camera || !this.active) return;
    const generation = ++this.generation;
    const [dayStart, dayEnd] = dayBounds(this.day);
    const end = Math.min(dayEnd, Date.now());
    try {
      const [recordings, events, activity] = await Promise.all([
        api.recordings(this.camera, seconds(dayStart), seconds(Math.max(end, dayStart + 1))),
        api.events({ camera: this.camera, limit: 500, before: new Date(dayEnd).toISOString() }),
        this.#fetchActivity(),
      ]);
      if (generation !== this.generation) return;
      this.recordings = recordings.segments.map((r) => ({
        ...r, start: Date.parse(r.start), end: Date.parse(r.end) }));
      this.events = events.filter((e) => startOf(e) >= dayStart - HOUR_MS && startOf(e) < dayEnd)
        .map((e) => ({ ...e, start: startOf(e), end: e.ended_at ? Date.parse(e.ended_at) : Date.now() }))
        .sort((a, b) => a.start - b.start);
      this.activity = activity;
      this.loaded = true;
      setText(this.message, this.recordings.length ? "" : `No footage on ${dayLabel(this.day)}.`);
      const origin = dayStart - HOUR_MS;
      if (this.player.origin === origin && this.player.source) this.player.updateRecordings(this.recordings);
      else this.player.setRecordings(this.recordings, origin);
      this.render();
    } catch (error) {
      if (generation === this.generation) setText(this.message, `Could not load the timeline: ${error.message}`);
    }
    if (this.isToday && this.active) this.timer = setTimeout(() => this.load(), REFRESH_MS);
  }

  /** Activity for the visible window and as much again on each side, about 1000 steps of it. */
  async #fetchActivity() {
    const [dayStart, dayEnd] = dayBounds(this.day);
    const [start, end] = this.#window();
    const span = end - start;
    const from = Math.max(dayStart, start - span);
    const to = Math.min(dayEnd, end + span, Date.now());
    const step = Math.max(1, Math.ceil(span / 1000 / 1000));
    this.activityRange = [from, to];
    if (to <= from) return [];
    return (await api.activity(this.camera, seconds(from), seconds(to), step)).points;
  }

  async #refreshActivity() {
    const generation = this.generation;
    try {
      const points = await this.#fetchActivity();
      if (generation !== this.generation) return;
      this.activity = points;
      this.render();
    } catch {
      // the next load() tries again
    }
  }

  // -- navigation ----------------------------------------------------------------------------

  async seek(at) {
    const [dayStart, dayEnd] = dayBounds(this.day);
    const target = clamp(at, dayStart, Math.min(dayEnd, Date.now()));
    this.#previewAt(target);
    const played = await this.player.seek(target);
    if (!played) setText(this.message, "No footage at or after this time.");
    else setText(this.message, "");
    this.#renderPlayhead();
  }

  stepEvent(direction) {
    const now = this.#playheadTime();
    const events = direction > 0 ? this.events.filter((e) => e.start > now + 1000)
                                 : this.events.filter((e) => e.start < now - 1000).reverse();
    if (events.length) this.seek(events[0].start);
  }

  async goLive() {
    if (!this.isToday) {
      this.#go(this.camera, dayKey(Date.now()));
      return;
    }
    const last = this.recordings.at(-1);
    if (last) await this.seek(Math.max(last.start, last.end - 4000));
  }

  setZoom(level) {
    this.zoom = clamp(level, 0, ZOOMS_S.length - 1);
    this.center = this.zoom === 0 ? null : this.#playheadTime();
    this.render();
    this.#refreshActivity();
  }

  #playheadTime() {
    const now = this.player.now;
    if (Number.isFinite(now)) return now;
    return this.preview ?? dayBounds(this.day)[0];
  }

  #previewAt(at) {
    this.preview = at;
    this.#renderPlayhead(at);
  }

  /** [start, end] ms of the visible part of the day. */
  #window() {
    const [dayStart, dayEnd] = dayBounds(this.day);
    const span = Math.min(ZOOMS_S[this.zoom] * 1000, dayEnd - dayStart);
    if (this.zoom === 0 || this.center === null) return [dayStart, dayStart + Math.max(span, dayEnd - dayStart)];
    const start = clamp(this.center - span / 2, dayStart, dayEnd - span);
    return [start, start + span];
  }

  // -- selection and export ------------------------------------------------------------------

  #toggleSelecting(on = !this.selecting) {
    this.selecting = on;
    this.selectToggle.setAttribute("aria-pressed", String(on));
    this.strip.classList.toggle("selecting", on);
  }

  #mark(which) {
    const at = this.#playheadTime();
    const current = this.selection ?? { start: at, end: at };
    if (which === "start") this.#setSelection(at, Math.max(at, current.end));
    else this.#setSelection(Math.min(at, current.start), at);
  }

  #setSelection(a, b) {
    this.selection = { start: Math.min(a, b), end: Math.max(a, b) };
    this.#renderSelection();
  }

  #renderSelection() {
    const selection = this.selection;
    const usable = selection && selection.end - selection.start >= 1000
      && selection.end - selection.start <= MAX_EXPORT_MS;
    this.exportLink.hidden = !usable;
    if (!selection) {
      setText(this.selectionLabel, "");
      this.selectionBox.hidden = true;
      return;
    }
    const tooLong = selection.end - selection.start > MAX_EXPORT_MS;
    setText(this.selectionLabel, tooLong ? "At most 24 hours at a time"
      : `${localTime(selection.start)} – ${localTime(selection.end)}`);
    if (usable) {
      const url = pageUrl(`api/cameras/${encodeURIComponent(this.camera)}/export.mp4`);
      url.searchParams.set("start", seconds(selection.start));
      url.searchParams.set("end", seconds(selection.end));
      this.exportLink.href = url.href;
      this.exportLink.setAttribute("download", `${this.camera}-${dayKey(selection.start)}.mp4`);
    }
    this.#place(this.selectionBox, selection.start, selection.end);
  }

  // -- drawing -------------------------------------------------------------------------------

  render() {
    const [start, end] = this.#window();
    this.footageLayer.replaceChildren(...this.recordings
      .filter((r) => r.end > start && r.start < end)
      .map((r) => this.#place(h("div", { class: "tl-footage", dataset: { kind: r.kind } }), r.start, r.end)));
    this.eventLayer.replaceChildren(...this.events
      .filter((e) => e.end > start && e.start < end)
      .map((e) => this.#place(h("button", {
        class: "tl-event", type: "button", tabindex: -1, dataset: { id: e.id },
        "aria-label": `Event at ${localTime(e.start)}`, title: `Event at ${localTime(e.start)}`,
        onclick: () => this.seek(e.start) }), e.start, Math.max(e.end, e.start + (end - start) / 400))));
    this.#renderActivity(start, end);
    this.#renderTicks(start, end);
    this.#renderSelection();
    this.#renderPlayhead();
    const span = end - start;
    setText(this.zoomLabel, span >= 86400000 - HOUR_MS ? "Whole day"
      : span >= HOUR_MS ? `${Math.round(span / HOUR_MS)} h` : `${Math.round(span / 60000)} min`);
    this.zoomIn.disabled = this.zoom >= ZOOMS_S.length - 1;
    this.zoomOut.disabled = this.zoom <= 0;
    this.strip.dataset.events = String(this.events.length);
    this.strip.dataset.footage = String(this.recordings.length);
  }

  #place(el, from, to) {
    const [start, end] = this.#window();
    const left = clamp((from - start) / (end - start), 0, 1);
    const right = clamp((to - start) / (end - start), 0, 1);
    el.style.left = `${(left * 100).toFixed(3)}%`;
    el.style.width = `${(Math.max(right - left, 0.002) * 100).toFixed(3)}%`;
    el.hidden = false;
    return el;
  }

  #renderActivity(start, end) {
    const points = this.activity.filter(([t]) => t * 1000 >= start - 60000 && t * 1000 < end);
    const peak = Math.max(1, ...points.map(([, value]) => value));
    const x = (t) => (((t * 1000 - start) / (end - start)) * 1000).toFixed(1);
    const y = (value) => (100 - (Math.sqrt(value / peak) * 95)).toFixed(1);
    const path = points.length
      ? `M${x(points[0][0])},100 ` + points.map(([t, v]) => `L${x(t)},${y(v)}`).join(" ")
        + ` L${x(points.at(-1)[0])},100 Z`
      : "";
    this.activityPath.setAttribute("d", path);
    this.activitySvg.dataset.points = String(points.length);
  }

  #renderTicks(start, end) {
    const span = end - start;
    const most = Math.max(2, Math.floor((this.strip.clientWidth || 800) / 70));
    const stepMs = [1, 5, 15, 30, 60, 120, 180, 360].map((m) => m * 60000)
      .find((s) => span / s <= most) ?? 6 * HOUR_MS;
    const first = Math.ceil(start / stepMs) * stepMs;
    const labels = [];
    for (let t = first; t <= end && labels.length < 30; t += stepMs) {
      if ((t - start) / span < 0.04 || (t - start) / span > 0.96) continue; // would be cut off
      const label = new Date(t).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
      const tick = h("span", { class: "tl-tick" }, label);
      tick.style.left = `${(((t - start) / span) * 100).toFixed(2)}%`;
      labels.push(tick);
    }
    this.ticks.replaceChildren(...labels);
  }

  #renderPlayhead(at = this.#playheadTime()) {
    const [start, end] = this.#window();
    const [dayStart] = dayBounds(this.day);
    if (this.zoom > 0 && this.player.source && !this.video.paused && (at < start || at > end)) {
      this.center = at; // the window follows playback
      this.render();
      const [from, to] = this.activityRange ?? [0, 0];
      const [shown, until] = this.#window();
      if (shown < from || until > to) this.#refreshActivity();
      return;
    }
    const visible = at >= start && at <= end;
    this.playhead.hidden = !visible;
    if (visible) this.playhead.style.left = `${(((at - start) / (end - start)) * 100).toFixed(3)}%`;
    this.strip.setAttribute("aria-valuenow", String(Math.round((at - dayStart) / 1000)));
    this.strip.setAttribute("aria-valuetext", localTime(at));
    setText(this.clock, `${dayLabel(this.day)} · ${localTime(at)}`);
    this.clock.dataset.time = String(Math.round(at));
  }

  #renderCameras() {
    const names = this.store.cameras.map((camera) => camera.name);
    if (!this.camera && names.length && this.active) this.show(names[0], this.day);
    const current = [...this.cameraSelect.options].map((o) => o.value);
    if (current.join() !== names.join()) {
      this.cameraSelect.replaceChildren(...names.map((name) => h("option", { value: name }, name)));
    }
    if (this.camera) this.cameraSelect.value = this.camera;
  }
}
