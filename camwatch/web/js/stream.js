// One camera's live websocket: JPEG frames decoded off the main thread, motion metadata,
// and reconnection with exponential backoff after a server restart or a network drop.

import { socketUrl } from "./api.js";

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 10000;
const FPS_WINDOW_MS = 2000;
// The server sends at least a placeholder frame a second even for an offline camera, so this
// much silence means a half-open connection (a network drop nobody told us about).
const STALL_MS = 10000;

/**
 * A camera websocket that reconnects with exponential backoff (and jitter) after a drop or a
 * half-open connection, and counts frames per second. Subclasses say what to open and what
 * to do with messages: url(), binaryType, receiveText(text), receiveBinary(data),
 * closed(event) (returns whether to retry and whether at once) and detach().
 */
class CameraSocket {
  constructor(name, onState) {
    this.name = name;
    this.onState = onState;
    this.ws = null;
    this.wanted = false;
    this.failures = 0;
    this.retryTimer = 0;
    this.watchdog = 0;
    this.arrivals = [];
  }

  start() {
    if (this.wanted) return;
    this.wanted = true;
    this.connect();
  }

  stop() {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdog);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
    this.detach();
    this.arrivals = [];
    this.onState("stopped");
  }

  /** Frames received per second over the last two seconds. */
  get fps() {
    const now = performance.now();
    while (this.arrivals.length && now - this.arrivals[0] > FPS_WINDOW_MS) this.arrivals.shift();
    return this.arrivals.length / (FPS_WINDOW_MS / 1000);
  }

  /** A frame arrived: count it, and say "live" after the first or after a reconnection. */
  arrived() {
    if (this.arrivals.push(performance.now()) === 1 || this.failures) {
      this.failures = 0;
      this.onState("live");
    }
  }

  connect() {
    this.onState("connecting");
    const ws = new WebSocket(socketUrl(this.url()));
    ws.binaryType = this.binaryType;
    this.ws = ws;
    this.feedWatchdog(ws);
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      this.feedWatchdog(ws);
      if (typeof event.data === "string") this.receiveText(event.data);
      else this.receiveBinary(event.data);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      clearTimeout(this.watchdog);
      this.ws = null;
      this.detach();
      const { retry, atOnce } = this.closed(event);
      if (retry && this.wanted) this.retry(atOnce);
    });
  }

  feedWatchdog(ws) {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      if (this.ws !== ws) return;
      this.ws = null;
      ws.close();
      this.detach();
      if (this.wanted) this.retry(false);
    }, STALL_MS);
  }

  retry(atOnce) {
    this.failures = atOnce ? 0 : this.failures + 1;
    const base = atOnce ? 100 : Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** (this.failures - 1));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5)); // jitter: no thundering herd
    this.onState("waiting", delay);
    this.retryTimer = setTimeout(() => this.wanted && this.connect(), delay);
  }

  closed() {
    return { retry: true, atOnce: false };
  }

  detach() {}
}

export class LiveStream extends CameraSocket {
  /**
   * onFrame(bitmap): draw it, then it is closed for you; onMeta(message); onState(state, detail)
   * with state "connecting" | "live" | "waiting" (detail = ms until the next try) | "stopped".
   */
  constructor(name, { onFrame, onMeta, onState }) {
    super(name, onState);
    this.onFrame = onFrame;
    this.onMeta = onMeta;
    this.binaryType = "blob";
    this.pending = null; // the newest undecoded frame; older ones are dropped
    this.decoding = false;
  }

  url() {
    return `cameras/${encodeURIComponent(this.name)}/ws?meta=1`;
  }

  detach() {
    this.pending = null;
  }

  receiveText(text) {
    try {
      const message = JSON.parse(text);
      if (message.type === "meta") this.onMeta(message);
    } catch {
      // not ours (e.g. a future message type); ignore
    }
  }

  receiveBinary(blob) {
    this.arrived();
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

const MSE_PROBE = 'video/mp4; codecs="avc1.42E01E"';
const MSE_BACKLOG = 90; // fragments waiting to be appended before we start over at a keyframe
const MSE_KEEP_S = 20; // seconds of played video kept in the SourceBuffer
const MSE_LIVE_EDGE_S = 1.5; // further behind the newest frame than this: jump forward

/** Media Source Extensions can play the camera's own H.264 here. */
export function mseSupported() {
  return typeof MediaSource !== "undefined" && MediaSource.isTypeSupported(MSE_PROBE);
}

/**
 * The camera's H.264 as fragmented MP4 (websocket ?format=mp4) played by a <video> through
 * Media Source Extensions: a tenth of the bandwidth of JPEG, with the camera's AAC as a second
 * track when it has some (onSound(hasSound) at each start). onMeta, onState as LiveStream;
 * onFallback(wanted, byCamera) when the camera (byCamera: the server's {"type": "error",
 * "fallback": "jpeg"} and close code 1003, e.g. it sends no H.264 right now) or this browser
 * cannot do it; the caller switches to JPEG.
 */
export class Mp4Stream extends CameraSocket {
  constructor(name, { video, onMeta, onState, onSound, onFallback }) {
    super(name, onState);
    this.video = video;
    this.onMeta = onMeta;
    this.onSound = onSound;
    this.onFallback = onFallback;
    this.binaryType = "arraybuffer";
    this.#reset();
  }

  url() {
    return `cameras/${encodeURIComponent(this.name)}/ws?format=mp4&meta=1`;
  }

  #reset() {
    this.source = null;
    this.buffer = null;
    this.queue = [];
  }

  detach() {
    if (this.video.src) URL.revokeObjectURL(this.video.src);
    this.video.removeAttribute("src");
    this.video.load();
    this.#reset();
  }

  /** 1003: this camera has no H.264 for us (use JPEG); 1012: its stream changed, reconnect now. */
  closed(event) {
    if (event.code === 1003) {
      this.#fallBack(true);
      return { retry: false, atOnce: false };
    }
    return { retry: true, atOnce: event.code === 1012 };
  }

  #fallBack(byCamera) {
    const wanted = this.wanted;
    this.stop();
    this.onFallback(wanted, byCamera);
  }

  receiveText(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.type === "meta") this.onMeta(message);
    else if (message.type === "error") this.#fallBack(true);
    else if (message.type === "init") {
      this.#open(message.mime);
      this.onSound?.(Boolean(message.audio));
    }
  }

  #open(mime) {
    if (!MediaSource.isTypeSupported(mime)) {
      this.#fallBack(false);
      return;
    }
    const source = new MediaSource();
    this.source = source;
    source.addEventListener("sourceopen", () => {
      if (this.source !== source) return;
      this.buffer = source.addSourceBuffer(mime);
      this.buffer.mode = "segments";
      this.buffer.addEventListener("updateend", () => this.#updated());
      this.#append();
    }, { once: true });
    this.video.src = URL.createObjectURL(source);
  }

  receiveBinary(data) {
    if (!this.source) return; // before the init message: not ours
    if (this.queue.length >= MSE_BACKLOG) {
      // this device cannot keep up: start over, the server begins again at a keyframe
      this.ws?.close(4000);
      return;
    }
    this.queue.push(data);
    this.arrived();
    this.#append();
  }

  #append() {
    const buffer = this.buffer;
    if (!buffer || buffer.updating || !this.queue.length) return;
    try {
      buffer.appendBuffer(this.queue.shift());
    } catch {
      this.ws?.close(4000); // QuotaExceeded or a closed source: start over
    }
  }

  #updated() {
    const { buffer, video } = this;
    if (!buffer || buffer.updating) return;
    const ranges = video.buffered;
    if (ranges.length) {
      const end = ranges.end(ranges.length - 1);
      if (end - video.currentTime > MSE_LIVE_EDGE_S || video.currentTime < ranges.start(0)) {
        video.currentTime = Math.max(ranges.start(ranges.length - 1), end - 0.2);
      }
      if (video.paused) video.play().catch(() => {});
      if (video.currentTime - ranges.start(0) > MSE_KEEP_S && !this.queue.length) {
        buffer.remove(ranges.start(0), video.currentTime - 5);
        return;
      }
    }
    this.#append();
  }
}
