// FootagePlayer: plays a camera's recordings (segments or clips) in one <video> through Media
// Source Extensions, each file placed at its wall-clock time, so playback runs on from one
// file into the next without a gap and currentTime is simply "seconds since the origin".

import { pageUrl } from "./api.js";

const AHEAD_S = 90; // fetch files until this much is buffered past the playhead
const BEHIND_S = 120; // and drop what lies further back (bounded memory)
const LIVE_POLL_MS = 2000; // a file still being recorded is read on as it grows
const TIMELINE_S = 27 * 3600; // the origin is an hour before midnight; a day lasts 23-25 h
const FALLBACK_CODEC = 'video/mp4; codecs="avc1.42E01E"';

/** Where a four-character box type first appears in an MP4's first 64 KiB (its moov), or -1. */
function findBox(view, type) {
  const [a, b, c, d] = Array.from(type, (ch) => ch.charCodeAt(0));
  for (let i = 4; i + 8 < view.length && i < 64 * 1024; i += 1) {
    if (view[i] === a && view[i + 1] === b && view[i + 2] === c && view[i + 3] === d) return i;
  }
  return -1;
}

/** An MPEG-4 descriptor at `i` (tag, then a length of up to four 7-bit bytes): tag, body. */
function descriptor(view, i) {
  let last = i + 1; // the length's last byte: the first without the continuation bit
  while (last < i + 4 && view[last] & 0x80) last += 1;
  return { tag: view[i], body: last + 1 };
}

/**
 * The AAC track's codec string from its esds, as the live stream names it (capture/packets.py
 * mse_codec): the AudioSpecificConfig's first five bits are the object type (2: AAC-LC, 5:
 * HE-AAC, 29: HE-AAC v2). ES_Descriptor (3) > DecoderConfigDescriptor (4) > DecSpecificInfo (5).
 */
export function soundCodecOf(view) {
  const esds = findBox(view, "esds");
  if (esds < 0) return "mp4a.40.2";
  const es = descriptor(view, esds + 8); // after the type, version and flags
  const flags = view[es.body + 2];
  let next = es.body + 3;
  if (flags & 0x80) next += 2; // dependsOn_ES_ID
  if (flags & 0x40) next += 1 + view[next]; // URL
  if (flags & 0x20) next += 2; // OCR_ES_Id
  const config = descriptor(view, next);
  const info = descriptor(view, config.body + 13); // after the object type, stream and rates
  const type = info.tag === 5 && es.tag === 3 && config.tag === 4 ? view[info.body] >> 3 : 2;
  return `mp4a.40.${type > 0 && type < 31 ? type : 2}`;
}

/**
 * The MIME type and codecs of an MP4: its H.264 track from the avcC box ("avc1.PPCCLL"), and
 * its AAC track when it has sound (from its esds, "mp4a.40.2" for AAC-LC): a SourceBuffer
 * takes only the tracks it was created for, so a file with sound needs both named.
 */
export function codecOf(bytes) {
  const view = new Uint8Array(bytes);
  const avcc = findBox(view, "avcC");
  if (avcc < 0) return FALLBACK_CODEC;
  const hex = (n) => n.toString(16).padStart(2, "0");
  const video = `avc1.${hex(view[avcc + 5])}${hex(view[avcc + 6])}${hex(view[avcc + 7])}`;
  const sound = findBox(view, "mp4a") >= 0 ? `,${soundCodecOf(view)}` : "";
  return `video/mp4; codecs="${video}${sound}"`;
}

const updated = (buffer) =>
  new Promise((resolve) => buffer.addEventListener("updateend", resolve, { once: true }));

export class FootagePlayer extends EventTarget {
  /** `origin` (epoch ms) is media time 0; recordings are {start, end (ms), url, live}. */
  constructor(video) {
    super();
    this.video = video;
    this.recordings = [];
    this.origin = 0;
    this.generation = 0;
    this.source = null;
    this.buffer = null;
    this.next = 0; // index of the next recording to append
    this.mime = null; // the SourceBuffer's type: the tracks of the files appended to it
    this.switchAt = null; // wall-clock ms of the next file, whose tracks differ
    this.liveOffset = 0; // bytes of the growing file appended so far
    this.timer = 0;
    video.addEventListener("timeupdate", () => this.#pump());
    video.addEventListener("waiting", () => this.#skipGap());
  }

  /** Wall-clock ms of the playhead (NaN before anything is loaded). */
  get now() {
    return this.source ? this.origin + this.video.currentTime * 1000 : NaN;
  }

  setRecordings(recordings, origin) {
    const changed = origin !== this.origin;
    this.recordings = recordings;
    if (changed) this.stop();
    this.origin = origin;
  }

  /** Extend the list (new footage recorded) without interrupting playback. */
  updateRecordings(recordings) {
    const appended = this.recordings.slice(0, this.next).map((r) => r.url);
    this.recordings = recordings;
    const index = recordings.findIndex((r) => r.url === appended.at(-1));
    if (index >= 0) this.next = index + 1;
    this.#pump();
  }

  stop() {
    this.generation += 1;
    this.following = false;
    this.switchAt = null;
    clearTimeout(this.timer);
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
    this.source = this.buffer = null;
  }

  /** Play from wall-clock `at` (ms): the recording holding it, or the next one after it. */
  async seek(at, { play = true } = {}) {
    let index = this.recordings.findIndex((r) => r.end >= at);
    if (index < 0) return false;
    const target = Math.max(at, this.recordings[index].start);
    if (this.#buffered(target)) {
      this.video.currentTime = (target - this.origin) / 1000;
      if (play) this.video.play().catch(() => {});
      return true;
    }
    const generation = await this.#open();
    if (generation !== this.generation) return false;
    this.next = index;
    await this.#appendNext(generation);
    if (generation !== this.generation) return false;
    this.video.currentTime = (target - this.origin) / 1000;
    if (play) this.video.play().catch(() => {});
    this.#pump();
    return true;
  }

  #buffered(at) {
    if (!this.buffer) return false;
    const t = (at - this.origin) / 1000;
    const ranges = this.buffer.buffered;
    for (let i = 0; i < ranges.length; i += 1) {
      if (ranges.start(i) <= t && t < ranges.end(i) - 0.05) return true;
    }
    return false;
  }

  async #open() {
    this.stop();
    const generation = this.generation;
    if (!window.MediaSource || this.recordings.length === 0) return -1;
    const source = new MediaSource();
    this.source = source;
    this.video.src = URL.createObjectURL(source);
    await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
    URL.revokeObjectURL(this.video.src);
    // The media timeline is the whole day from the start: a seek to footage not fetched yet
    // (the live edge, whose next fragment is still being written) waits for it instead of
    // being clamped to the end of what is buffered.
    source.duration = TIMELINE_S;
    return generation;
  }

  /** The file, or (from > 0) what it holds from byte `from` on. The range asks for one byte
   * before that, so it can always be served (a 416 would be logged while nothing is new). */
  async #fetch(recording, from = 0) {
    const headers = from > 0 ? { Range: `bytes=${from - 1}-` } : {};
    const response = await fetch(pageUrl(recording.url), { cache: "no-store", headers });
    if (!response.ok) throw new Error(`${response.status} ${recording.url}`);
    const bytes = await response.arrayBuffer();
    if (from > 0 && response.status !== 206) throw new Error(`no range from ${recording.url}`);
    return from > 0 ? bytes.slice(1) : bytes;
  }

  async #append(bytes, offset, generation) {
    if (generation !== this.generation || !this.source || this.source.readyState !== "open") return;
    if (!this.buffer) {
      this.mime = codecOf(bytes);
      this.buffer = this.source.addSourceBuffer(this.mime);
      this.buffer.mode = "segments";
    }
    const buffer = this.buffer;
    for (let i = 0; buffer.updating && i < 50; i += 1) await updated(buffer);
    if (generation !== this.generation) return;
    if (offset !== null) buffer.timestampOffset = offset;
    buffer.appendBuffer(bytes);
    await updated(buffer);
  }

  /** Append the next recording (all of it, or what a live one holds so far). */
  async #appendNext(generation) {
    const recording = this.recordings[this.next];
    if (!recording) return;
    this.appending = true;
    try {
      const bytes = await this.#fetch(recording);
      if (recording.live && bytes.byteLength === 0) {
        this.#awaitFirstFragment(generation);
        return;
      }
      if (this.buffer && codecOf(bytes) !== this.mime) {
        // other tracks (sound that starts or stops): a SourceBuffer keeps the tracks it began
        // with, so playback starts over at this file once the playhead gets there
        this.switchAt = recording.start;
        return;
      }
      await this.#append(bytes, (recording.start - this.origin) / 1000, generation);
      if (generation !== this.generation) return;
      if (recording.live) {
        this.liveOffset = bytes.byteLength;
        this.following = true;
        this.#followLive(recording, generation);
      }
      this.next += 1;
      if (this.video.readyState < HTMLMediaElement.HAVE_FUTURE_DATA) this.#skipGap();
    } catch (error) {
      this.dispatchEvent(new CustomEvent("error", { detail: error }));
      this.next += 1; // a file that went away is skipped, not retried forever
    } finally {
      this.appending = false;
    }
  }

  /** The file being recorded is empty until its first fragment (a keyframe interval in: its
   * header waits for it, camwatch/recording/clip_writer.py): ask for it again shortly. */
  #awaitFirstFragment(generation) {
    this.following = true; // nothing else is appended meanwhile
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (generation !== this.generation) return;
      this.following = false;
      this.#appendNext(generation).then(() => this.#pump());
    }, LIVE_POLL_MS / 4);
  }

  /** The file being recorded: read what was added since, every couple of seconds. */
  #followLive(recording, generation) {
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      if (generation !== this.generation) return;
      // finished since the list was fetched: its last bytes, then on to the next file
      const finished = !this.recordings.find((r) => r.url === recording.url)?.live;
      let grew = 0;
      try {
        grew = await this.#appendTail(recording, generation);
      } catch {
        this.following = false;
        return;
      }
      // nothing new: the file may have been closed and the next one begun; ask for the list
      if (!grew && !finished) this.dispatchEvent(new Event("live-ended"));
      if (!finished) {
        this.#followLive(recording, generation);
        return;
      }
      this.following = false;
      this.dispatchEvent(new Event("live-ended")); // the next file is being written: ask for it
      this.#pump();
    }, LIVE_POLL_MS);
  }

  async #appendTail(recording, generation) {
    const bytes = await this.#fetch(recording, this.liveOffset);
    if (bytes.byteLength && generation === this.generation) {
      this.liveOffset += bytes.byteLength;
      await this.#append(bytes, null, generation);
    }
    return bytes.byteLength;
  }

  /** The playhead reached a file with other tracks (switchAt): play on from it afresh. */
  #switchTracks(now = false) {
    const at = this.switchAt;
    if (at === null || (!now && this.now < at - 100)) return false;
    this.switchAt = null;
    this.seek(at);
    return true;
  }

  #pump() {
    if (!this.buffer || this.appending || this.buffer.updating || this.#switchTracks()) return;
    const t = this.video.currentTime;
    const ranges = this.buffer.buffered;
    const end = ranges.length ? ranges.end(ranges.length - 1) : 0;
    if (ranges.length && ranges.start(0) < t - BEHIND_S) {
      this.buffer.remove(0, t - BEHIND_S / 2);
      return;
    }
    if (end - t < AHEAD_S && this.next < this.recordings.length && !this.following &&
        this.switchAt === null) {
      this.#appendNext(this.generation).then(() => this.#pump());
    }
    this.dispatchEvent(new Event("time"));
  }

  /** Between two clips (events mode) nothing is buffered: go on at the next one. */
  #skipGap() {
    if (!this.buffer) return;
    const t = this.video.currentTime;
    const ranges = this.buffer.buffered;
    for (let i = 0; i < ranges.length; i += 1) {
      if (ranges.start(i) <= t && t < ranges.end(i) - 0.05) return; // only slow, not a gap
      if (ranges.start(i) > t) {
        this.video.currentTime = ranges.start(i);
        return;
      }
    }
    if (this.switchAt !== null) {
      this.#switchTracks(true); // nothing else buffered: the file with other tracks is next
      return;
    }
    this.#pump();
  }
}
