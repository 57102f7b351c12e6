// The camera list from /api/cameras, polled while the page is visible; views listen for "change".

import { api } from "./api.js";

export class CameraStore extends EventTarget {
  constructor(intervalMs = 2000) {
    super();
    this.intervalMs = intervalMs;
    this.cameras = [];
    this.loaded = false;
    this.reachable = true;
    this.timer = 0;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.refresh();
    });
  }

  start() {
    this.refresh();
  }

  get(name) {
    return this.cameras.find((camera) => camera.name === name);
  }

  async refresh() {
    clearTimeout(this.timer);
    try {
      this.cameras = await api.cameras();
      this.reachable = true;
      this.loaded = true;
    } catch {
      this.reachable = false;
    }
    this.dispatchEvent(new Event("change"));
    if (document.visibilityState === "visible") {
      this.timer = setTimeout(() => this.refresh(), this.intervalMs);
    }
  }
}
