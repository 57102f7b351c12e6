// Live view: a responsive grid of camera tiles (picture, status, motion graph) and a large view.

import { api, pageUrl } from "./api.js";
import { h, icon, setText } from "./dom.js";
import { percent } from "./format.js";
import { MotionGraph } from "./graph.js";
import { LiveStream, Mp4Stream, mseSupported } from "./stream.js";

const STOP_AFTER_HIDDEN_MS = 5000;
const MOTION_VIEW_MS = 200; // how often the motion overlay is fetched while it is shown

class CameraTile {
  constructor(camera, { onToggle }) {
    this.name = camera.name;
    this.onScreen = false;
    this.active = false;
    this.stopTimer = 0;
    this.recording = false;
    this.online = camera.online;
    this.connection = "stopped";
    this.#build(camera, onToggle);
    this.graph = new MotionGraph(this.graphCanvas);
    this.stream = camera.codec === "h264" && mseSupported() ? this.#mp4Stream() : this.#jpegStream();
    this.update(camera);
  }

  /** JPEG frames drawn on the canvas: any camera, any browser. */
  #jpegStream() {
    this.video.hidden = true;
    this.canvas.hidden = false;
    this.#showSound(false);
    this.el.dataset.stream = "jpeg";
    return new LiveStream(this.name, {
      onFrame: (bitmap) => this.#draw(bitmap),
      onMeta: (meta) => this.#meta(meta),
      onState: (state, detail) => this.#connectionState(state, detail),
    });
  }

  /** The camera's own H.264 in a <video> through Media Source Extensions. */
  #mp4Stream() {
    this.video.hidden = false;
    this.canvas.hidden = true;
    this.el.dataset.stream = "mp4";
    return new Mp4Stream(this.name, {
      video: this.video,
      onMeta: (meta) => this.#meta(meta),
      onState: (state, detail) => this.#connectionState(state, detail),
      onSound: (hasSound) => this.#showSound(hasSound),
      onFallback: (wanted, byCamera) => {
        // this browser cannot play it: JPEG for good; the camera refused: JPEG until the
        // camera list says it does not send H.264 and then that it does again (back online)
        if (byCamera) this.mp4Refused = true;
        else this.mseFailed = true;
        this.stream = this.#jpegStream();
        if (wanted) this.stream.start();
      },
    });
  }

  #build(camera, onToggle) {
    this.canvas = h("canvas", { class: "frame", width: camera.width || 640,
                                height: camera.height || 360 });
    this.video = h("video", { class: "frame", playsinline: true, disablepictureinpicture: true,
                              "aria-hidden": "true", hidden: true });
    this.video.muted = true; // muted until asked: a live view may then play without a click
    this.video.addEventListener("volumechange", () => this.#showSound(!this.soundButton.hidden));
    this.video.addEventListener("loadeddata", () => {
      this.el.classList.add("has-frame");
      if (this.video.videoWidth) {
        this.el.style.setProperty("--aspect", `${this.video.videoWidth} / ${this.video.videoHeight}`);
      }
    });
    this.placeholder = h("span", { class: "frame-message" }, "Connecting…");
    this.recBadge = h("span", { class: "pill pill-rec", hidden: true }, "REC");
    // detection or recording switched off (Settings, the API, Home Assistant): say so on the picture
    this.offBadge = h("span", { class: "pill pill-off", hidden: true });
    this.motionOverlay = h("img", { class: "motion-overlay", alt: "", hidden: true });
    this.view = h("button", { class: "frame-button", type: "button", onclick: () => onToggle(this.name) },
      this.canvas, this.video, this.motionOverlay, this.placeholder,
      h("span", { class: "frame-badges" }, this.offBadge, this.recBadge));
    this.motionToggle = h("button", { class: "button ghost icon-only", type: "button",
                                      "aria-pressed": "false",
                                      "aria-label": `Show what counts as motion on ${camera.name}`,
                                      title: "Show motion (red) and ignored areas (dark)",
                                      onclick: () => this.#toggleMotionView() }, icon("motion"));
    // the camera's own sound (AAC) when the live view is its H.264: off until clicked
    this.soundLabel = h("span", {}, "Sound off");
    this.soundButton = h("button", { class: "button ghost", type: "button", hidden: true,
                                     "aria-pressed": "false", dataset: { role: "sound" },
                                     "aria-label": `Sound of ${camera.name}`,
                                     onclick: () => { this.video.muted = !this.video.muted; } },
      this.soundLabel);
    this.status = h("span", { class: "status" });
    this.fps = h("span", { class: "tile-fps" });
    this.back = h("button", { class: "button ghost tile-back", type: "button",
                              "aria-label": "Back to all cameras", onclick: () => onToggle(this.name) },
      icon("back"), h("span", {}, "All cameras"));
    this.fullscreen = h("button", { class: "button ghost icon-only", type: "button",
                                    "aria-label": `Full screen ${camera.name}`,
                                    onclick: () => this.#fullscreen() }, icon("expand"));
    this.snapshot = h("a", { class: "button ghost icon-only", download: `${camera.name}.jpg`,
                             href: pageUrl(`cameras/${encodeURIComponent(camera.name)}/snapshot.jpg`).href,
                             "aria-label": `Download a snapshot of ${camera.name}` }, icon("camera"));
    this.graphCanvas = h("canvas", { class: "graph", role: "img",
                                     "aria-label": `Motion graph of ${camera.name}` });
    this.graphLegend = h("span", { class: "graph-legend" });
    this.el = h("article", { class: "tile", dataset: { camera: camera.name },
                             "aria-label": `Camera ${camera.name}` },
      h("header", { class: "tile-head" },
        this.back,
        h("h2", { class: "tile-name" }, camera.name),
        this.status, this.fps,
        h("span", { class: "tile-actions" }, this.soundButton, this.motionToggle, this.snapshot,
          this.fullscreen)),
      this.view,
      h("div", { class: "graph-box" },
        h("div", { class: "graph-labels" },
          h("span", {}, "Motion, last minute"), this.graphLegend),
        this.graphCanvas));
  }

  /** The sound button: shown while the live stream carries the camera's sound. */
  #showSound(hasSound) {
    this.soundButton.hidden = !hasSound;
    const on = hasSound && !this.video.muted;
    this.soundButton.setAttribute("aria-pressed", String(on));
    setText(this.soundLabel, on ? "Sound on" : "Sound off");
  }

  /** New state from /api/cameras. */
  update(camera) {
    this.camera = camera;
    if (camera.codec !== "h264") this.mp4Refused = false;
    if (this.el.dataset.stream === "jpeg" && camera.codec === "h264" && !this.mseFailed &&
        !this.mp4Refused && mseSupported()) {
      // the camera came online and sends H.264: watch its own stream from now on
      const wanted = this.stream.wanted;
      this.stream.stop();
      this.stream = this.#mp4Stream();
      if (wanted) this.stream.start();
    }
    if (camera.width && camera.height) {
      this.el.style.setProperty("--aspect", `${camera.width} / ${camera.height}`);
    }
    if (this.connection !== "live") this.online = camera.online;
    this.recording = camera.recording;
    const detecting = camera.motion?.enabled !== false;
    const off = !detecting ? "Detection off" : camera.recording_error ? "Cannot record"
      : camera.recordings === false ? "Recording off" : "";
    this.offBadge.hidden = !off;
    setText(this.offBadge, off);
    this.offBadge.title = camera.recording_error ?? "";
    this.motionToggle.disabled = !detecting;
    if (!detecting && this.#showingMotion()) this.#toggleMotionView();
    this.graph.threshold = camera.motion?.threshold ?? this.graph.threshold;
    this.#render();
  }

  setFocused(focused) {
    this.el.classList.toggle("focused", focused);
    this.view.setAttribute("aria-label", focused ? "Back to all cameras" : `Open ${this.name} large`);
    this.graph.schedule();
  }

  /** Stream only while the live view is shown and the tile is on screen. */
  setActive(active) {
    this.active = active;
    this.#syncStream();
  }

  setOnScreen(onScreen) {
    this.onScreen = onScreen;
    this.#syncStream();
  }

  #syncStream() {
    clearTimeout(this.stopTimer);
    if (this.active && this.onScreen && document.visibilityState === "visible") {
      this.stream.start();
    } else if (this.stream.wanted) {
      this.stopTimer = setTimeout(() => this.stream.stop(), this.active ? STOP_AFTER_HIDDEN_MS : 0);
    }
  }

  refreshVisibility() {
    this.#syncStream();
  }

  #draw(bitmap) {
    if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
      this.canvas.width = bitmap.width;
      this.canvas.height = bitmap.height;
      this.el.style.setProperty("--aspect", `${bitmap.width} / ${bitmap.height}`);
    }
    this.canvas.getContext("2d").drawImage(bitmap, 0, 0);
    if (!this.el.classList.contains("has-frame")) this.el.classList.add("has-frame");
  }

  #meta(meta) {
    this.graph.push(meta.t, meta.delta, meta.threshold);
    const changed = this.recording !== meta.recording || this.online !== meta.online;
    this.recording = meta.recording;
    this.online = meta.online;
    if (changed) this.#render();
    this.#legend(meta.delta, meta.threshold);
  }

  #legend(delta, threshold) {
    if (!this.legendValue) {
      this.legendValue = h("strong");
      this.legendThreshold = h("span");
      this.graphLegend.replaceChildren("now ", this.legendValue, " · threshold ", this.legendThreshold);
    }
    setText(this.legendValue, percent(delta));
    setText(this.legendThreshold, percent(threshold));
  }

  async #connectionState(state, detail) {
    this.connection = state;
    if (state === "connecting") setText(this.placeholder, "Connecting…");
    if (state === "waiting") {
      setText(this.placeholder, `Connection lost. Retrying in ${Math.ceil(detail / 1000)} s…`);
    }
    this.el.dataset.connection = state;
    this.#render();
    if (state === "live") await this.#loadHistory();
  }

  async #loadHistory() {
    try {
      const history = await api.motionHistory(this.name);
      const live = this.graph.points.filter(([t]) => t > (history.points.at(-1)?.[0] ?? 0));
      this.graph.load(history.points.concat(live), history.threshold);
    } catch {
      // an older server without the history endpoint: the graph fills as frames arrive
    }
  }

  #render() {
    const state = this.connection === "live" ? (this.online ? "online" : "offline")
      : this.connection === "stopped" ? "paused" : "connecting";
    const labels = { online: "Online", offline: "Camera offline", paused: "Paused",
                     connecting: "Reconnecting" };
    this.status.className = `status status-${state}`;
    setText(this.status, labels[state]);
    this.recBadge.hidden = !this.recording;
    this.el.classList.toggle("recording", this.recording);
    const fps = this.connection === "live" ? this.stream.fps : 0;
    setText(this.fps, fps ? `${fps.toFixed(1)} fps` : "");
    this.el.dataset.fps = fps.toFixed(1);
  }

  tick() {
    this.#render();
  }

  /** Lay what the detector sees over the picture, refreshed while shown (one request at a time). */
  #showingMotion() {
    return this.motionToggle.getAttribute("aria-pressed") === "true";
  }

  #toggleMotionView() {
    const showing = !this.#showingMotion();
    this.motionToggle.setAttribute("aria-pressed", String(showing));
    this.motionOverlay.hidden = !showing;
    clearTimeout(this.motionTimer);
    if (showing) this.#fetchMotionView();
    else this.#stopMotionView();
  }

  #stopMotionView() {
    clearTimeout(this.motionTimer);
    this.motionOverlay.onload = this.motionOverlay.onerror = null;
    this.motionOverlay.removeAttribute("src");
  }

  #fetchMotionView() {
    if (!this.#showingMotion() || this.destroyed) return;
    const next = () => { this.motionTimer = setTimeout(() => this.#fetchMotionView(), MOTION_VIEW_MS); };
    if (!this.stream.wanted) { next(); return; } // off screen or another page: no requests
    const url = pageUrl(`cameras/${encodeURIComponent(this.name)}/motion.png`);
    url.searchParams.set("t", Date.now());
    this.motionOverlay.onload = next;
    this.motionOverlay.onerror = () => { this.motionTimer = setTimeout(() => this.#fetchMotionView(), 3000); };
    this.motionOverlay.src = url.href;
  }

  #fullscreen() {
    const target = this.view;
    if (document.fullscreenElement) document.exitFullscreen();
    else target.requestFullscreen?.().catch(() => {});
  }

  destroy() {
    this.destroyed = true;
    clearTimeout(this.stopTimer);
    this.#stopMotionView();
    this.stream.stop();
    this.el.remove();
  }
}

export class LiveView {
  constructor(root, store, { onToggle }) {
    this.root = root;
    this.store = store;
    this.onToggle = onToggle;
    this.tiles = new Map();
    this.active = false;
    this.focused = null;
    this.grid = h("div", { class: "grid" });
    this.empty = h("p", { class: "empty", hidden: true }, "Waiting for the camera list…");
    this.banner = h("p", { class: "banner", role: "status", hidden: true });
    root.append(this.banner, this.empty, this.grid);
    this.observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        this.tiles.get(entry.target.dataset.camera)?.setOnScreen(entry.isIntersecting);
      }
    });
    store.addEventListener("change", () => this.render());
    document.addEventListener("visibilitychange", () => {
      for (const tile of this.tiles.values()) tile.refreshVisibility();
    });
    setInterval(() => this.active && this.tiles.forEach((tile) => tile.tick()), 1000);
  }

  render() {
    const { cameras, loaded, reachable } = this.store;
    const seen = new Set();
    for (const camera of cameras) {
      seen.add(camera.name);
      let tile = this.tiles.get(camera.name);
      if (!tile) {
        tile = new CameraTile(camera, { onToggle: this.onToggle });
        this.tiles.set(camera.name, tile);
        this.grid.append(tile.el);
        this.observer.observe(tile.el);
        tile.setActive(this.active);
        tile.setFocused(tile.name === this.focused);
      }
      tile.update(camera);
    }
    for (const [name, tile] of this.tiles) {
      if (!seen.has(name)) {
        this.observer.unobserve(tile.el);
        tile.destroy();
        this.tiles.delete(name);
      }
    }
    const demo = cameras.filter((camera) => camera.demo_fallback).map((camera) => camera.name);
    const notices = cameras.filter((camera) => camera.recording_error)
      .map((camera) => `${camera.name} cannot record: ${camera.recording_error}`);
    if (demo.length) {
      notices.unshift(`No webcam found: ${demo.join(", ")} ${demo.length > 1 ? "show" : "shows"} the built-in demo scene.`);
    }
    this.banner.hidden = notices.length === 0;
    setText(this.banner, notices.join(" "));
    this.empty.hidden = cameras.length > 0;
    setText(this.empty, !reachable && !loaded ? "Cannot reach the camwatch server. Retrying…"
      : loaded ? "No cameras are configured." : "Loading cameras…");
    this.#applyFocus();
  }

  setActive(active) {
    this.active = active;
    for (const tile of this.tiles.values()) tile.setActive(active);
  }

  /** Show one camera large (name) or the grid (null). */
  focus(name) {
    this.focused = name;
    this.#applyFocus();
  }

  #applyFocus() {
    const name = this.tiles.has(this.focused) ? this.focused : null;
    this.grid.classList.toggle("has-focus", name !== null);
    for (const tile of this.tiles.values()) tile.setFocused(tile.name === name);
    if (name) document.title = `${name} · camwatch`;
  }
}
