// Entry point: the views, hash routing (#live, #live/<camera>, #events, #timeline,
// #timeline/<camera>[/<day>], #settings) and the server connection indicator.

import { h, setText } from "./dom.js";
import { EventsView } from "./events.js";
import { LiveView } from "./live.js";
import { PlayerDialog } from "./player.js";
import { SettingsView } from "./settings.js";
import { CameraStore } from "./store.js";
import { TimelineView } from "./timeline.js";

const store = new CameraStore(1500);
const player = new PlayerDialog();
const sections = {
  live: document.getElementById("view-live"),
  events: document.getElementById("view-events"),
  timeline: document.getElementById("view-timeline"),
  settings: document.getElementById("view-settings"),
};
let openedFromGrid = false;

const live = new LiveView(sections.live, store, { onToggle: toggleCamera });
const events = new EventsView(sections.events, store, player);
new SettingsView(sections.settings, store);
const timeline = new TimelineView(sections.timeline, store);

function route() {
  const [view, camera, day] = decodeURIComponent(location.hash.slice(1)).split("/");
  return { view: view in sections ? view : "live", camera: camera || null, day: day || null };
}

function toggleCamera(name) {
  if (route().camera === name) closeCamera();
  else {
    openedFromGrid = true;
    location.hash = `#live/${encodeURIComponent(name)}`;
  }
}

function closeCamera() {
  const name = route().camera;
  if (openedFromGrid) history.back();
  else location.replace("#live");
  openedFromGrid = false;
  // give keyboard users their place back in the grid
  requestAnimationFrame(() =>
    sections.live.querySelector(`.tile[data-camera="${CSS.escape(name)}"] .frame-button`)?.focus());
}

function show() {
  const { view, camera, day } = route();
  for (const [name, section] of Object.entries(sections)) section.hidden = name !== view;
  for (const link of document.querySelectorAll(".nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  live.setActive(view === "live");
  live.focus(view === "live" ? camera : null);
  events.setActive(view === "events");
  timeline.setActive(view === "timeline");
  if (view === "timeline") timeline.show(camera, day);
  if (!(view === "live" && camera) && view !== "timeline") {
    document.title = { live: "Live · camwatch", events: "Recordings · camwatch",
                       settings: "Settings · camwatch" }[view];
  }
}

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && route().view === "live" && route().camera
      && !document.querySelector("dialog[open]")
      && !document.fullscreenElement) {
    closeCamera();
  }
});
window.addEventListener("hashchange", show);

const serverStatus = document.getElementById("server-status");
store.addEventListener("change", () => {
  const state = store.reachable ? "online" : "offline";
  serverStatus.className = `server-status status status-${state}`;
  setText(serverStatus.querySelector(".label"), store.reachable ? "Connected" : "Server unreachable");
  serverStatus.title = store.reachable ? "Connected to the camwatch server" : "Cannot reach the server; retrying";
});
serverStatus.append(h("span", { class: "label" }, "Connecting"));

show();
store.start();
