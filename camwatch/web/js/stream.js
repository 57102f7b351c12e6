// One camera's live websocket: JPEG frames decoded off the main thread, motion metadata,
// and reconnection with exponential backoff after a server restart or a network drop.

import { socketUrl } from "./api.js";

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 10000;
const FPS_WINDOW_MS = 2000;
// The server sends at least a placeholder frame a second even for an offline camera, so this
// much silence means a half-open connection (a network drop nobody told us about).
const STALL_MS = 10000;

export class LiveStream {
  /**
   * onFrame(bitmap): draw it, then it is closed for you; onMeta(message); onState(state, detail)
   * with state "connecting" | "live" | "waiting" (detail = ms until the next try) | "stopped".
   */
  constructor(name, { onFrame, onMeta, onState }) {
    this.name = name;
    this.onFrame = onFrame;
    this.onMeta = onMeta;
    this.onState = onState;
    this.ws = null;
    this.wanted = false;
    this.failures = 0;
    this.retryTimer = 0;
    this.pending = null; // the newest undecoded frame; older ones are dropped
    this.decoding = false;
    this.arrivals = [];
    this.watchdog = 0;
  }

  start() {
    if (this.wanted) return;
    this.wanted = true;
    this.#connect();
  }

  stop() {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdog);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
    this.pending = null;
    this.arrivals = [];
    this.onState("stopped");
  }

  /** Frames received per second over the last two seconds. */
  get fps() {
    const now = performance.now();
    while (this.arrivals.length && now - this.arrivals[0] > FPS_WINDOW_MS) this.arrivals.shift();
    return this.arrivals.length / (FPS_WINDOW_MS / 1000);
  }

  #connect() {
    this.onState("connecting");
    const ws = new WebSocket(socketUrl(`cameras/${encodeURIComponent(this.name)}/ws?meta=1`));
    ws.binaryType = "blob";
    this.ws = ws;
    this.#feedWatchdog(ws);
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      this.#feedWatchdog(ws);
      if (typeof event.data === "string") this.#meta(event.data);
      else this.#frame(event.data);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      clearTimeout(this.watchdog);
      this.ws = null;
      if (this.wanted) this.#retry();
    });
  }

  #feedWatchdog(ws) {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      if (this.ws !== ws) return;
      this.ws = null;
      ws.close();
      if (this.wanted) this.#retry();
    }, STALL_MS);
  }

  #retry() {
    this.failures += 1;
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** (this.failures - 1));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5)); // jitter: no thundering herd
    this.onState("waiting", delay);
    this.retryTimer = setTimeout(() => this.wanted && this.#connect(), delay);
  }

  #meta(text) {
    try {
      const message = JSON.parse(text);
      if (message.type === "meta") this.onMeta(message);
    } catch {
      // not ours (e.g. a future message type); ignore
    }
  }

  #frame(blob) {
    this.arrivals.push(performance.now());
    if (this.failures || this.arrivals.length === 1) {
      this.failures = 0;
      this.onState("live");
    }
    this.pending = blob;
    if (!this.decoding) this.#drain();
  }

  async #drain() {
    this.decoding = true;
    while (this.pending) {
      const blob = this.pending;
      this.pending = null;
      let bitmap = null;
      try {
        bitmap = await createImageBitmap(blob);
      } catch {
        continue; // a truncated JPEG: skip it
      }
      try {
        if (this.wanted) this.onFrame(bitmap);
      } finally {
        bitmap.close();
      }
    }
    this.decoding = false;
  }
}
