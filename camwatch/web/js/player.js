// The clip player: a modal <dialog> with the video, previous/next, download and delete.

import { api, pageUrl, startOf } from "./api.js";
import { h, icon, setText } from "./dom.js";
import { bytes, dayKey, dayLabel, duration, localTime, percent } from "./format.js";

export class PlayerDialog extends EventTarget {
  constructor() {
    super();
    this.events = new Map();
    this.order = [];
    this.current = null;
    this.#build();
  }

  #build() {
    this.title = h("h2", { id: "player-title", class: "player-title" });
    this.video = h("video", { controls: true, playsinline: true, preload: "metadata",
                              "aria-labelledby": "player-title" });
    this.info = h("p", { class: "player-info" });
    this.error = h("p", { class: "form-error", role: "alert" });
    this.prev = h("button", { class: "button ghost", type: "button", "aria-label": "Newer clip",
                              onclick: () => this.#step(-1) }, icon("prev"), h("span", {}, "Newer"));
    this.next = h("button", { class: "button ghost", type: "button", "aria-label": "Older clip",
                              onclick: () => this.#step(1) }, h("span", {}, "Older"), icon("next"));
    this.soundLabel = h("span", {}, "Sound on");
    this.sound = h("button", { class: "button ghost", type: "button", "aria-pressed": "true",
                               dataset: { role: "sound" }, onclick: () => this.#toggleSound() },
      this.soundLabel);
    this.download = h("a", { class: "button", download: "" }, icon("download"), h("span", {}, "Download"));
    this.deleteButton = h("button", { class: "button danger-outline", type: "button",
                                      onclick: () => this.#askDelete(true) },
      icon("trash"), h("span", {}, "Delete…"));
    this.confirmYes = h("button", { class: "button danger", type: "button",
                                    onclick: () => this.#delete() }, "Delete clip");
    this.confirm = h("div", { class: "confirm", hidden: true, role: "group",
                              "aria-labelledby": "confirm-text" },
      h("p", { id: "confirm-text" }, "Delete this clip and its thumbnail for good?"),
      this.confirmYes,
      h("button", { class: "button ghost", type: "button", onclick: () => this.#askDelete(false) },
        "Keep it"));
    this.dialog = h("dialog", { class: "player", "aria-labelledby": "player-title" },
      h("div", { class: "player-head" }, this.title,
        h("button", { class: "button ghost icon-only", type: "button", "aria-label": "Close player",
                      onclick: () => this.dialog.close() }, icon("close"))),
      h("div", { class: "player-video" }, this.video),
      this.info,
      h("div", { class: "player-actions" }, this.prev, this.next,
        this.sound, h("span", { class: "spacer" }), this.download, this.deleteButton),
      this.confirm, this.error);
    this.video.addEventListener("error", () => {
      if (this.video.getAttribute("src")) {
        setText(this.error, this.#playing()?.ended_at
          ? "This clip cannot be played. It may have been deleted."
          : "This clip is still being recorded; try again when it has finished.");
      }
    });
    this.video.addEventListener("volumechange", () => {
      const event = this.#playing();
      if (event) this.#showSound(event); // the native controls' mute too
    });
    this.dialog.addEventListener("close", () => this.#unload());
    // a click on the backdrop (outside the dialog's box) closes it, like Escape
    this.dialog.addEventListener("click", (e) => {
      if (e.target === this.dialog) this.dialog.close();
    });
    document.body.append(this.dialog);
  }

  /** Keep the player's copy of an event fresh (a clip that was recording has ended). */
  updateEvent(event) {
    this.events.set(event.id, event);
    if (this.current === event.id && this.dialog.open) this.#describe(event);
  }

  /** Open the player on one event; `order` (ids, newest first) drives previous/next. */
  open(id, order = []) {
    this.order = order;
    this.#show(id);
    if (!this.dialog.open) this.dialog.showModal();
    this.video.focus();
  }

  #playing() {
    return this.events.get(this.current);
  }

  #show(id) {
    const event = this.events.get(id);
    if (!event) return;
    this.current = id;
    this.#askDelete(false);
    setText(this.error, "");
    this.video.src = pageUrl(event.video_url).href;
    this.video.poster = pageUrl(event.thumbnail_url).href;
    this.download.href = pageUrl(event.video_url).href;
    this.download.setAttribute("download", `${event.camera}-${event.id}.mp4`);
    this.#describe(event);
    const index = this.order.indexOf(id);
    this.prev.disabled = index <= 0;
    this.next.disabled = index < 0 || index >= this.order.length - 1;
    this.#showSound(event);
    this.video.play().catch(() => {}); // autoplay may be refused; the controls still work
  }

  /** Mute/unmute: off for a clip without sound (has_audio false). */
  #showSound(event) {
    const hasAudio = event.has_audio === true;
    this.sound.disabled = !hasAudio;
    this.sound.setAttribute("aria-pressed", String(hasAudio && !this.video.muted));
    setText(this.soundLabel, !hasAudio ? "No sound" : this.video.muted ? "Sound off" : "Sound on");
  }

  #toggleSound() {
    this.video.muted = !this.video.muted;
    const event = this.#playing();
    if (event) this.#showSound(event);
  }

  #describe(event) {
    const start = startOf(event);
    setText(this.title, `${event.camera} · ${dayLabel(dayKey(start), { short: true })} ${localTime(start)}`);
    const parts = [
      event.ended_at ? duration(event.duration_s) : "still recording",
      `peak motion ${percent(event.peak_delta)}`,
      `${event.motion_frames} of ${event.frames} frames with motion`,
      bytes(event.size_bytes),
    ];
    setText(this.info, parts.filter(Boolean).join(" · "));
  }

  #step(direction) {
    const index = this.order.indexOf(this.current) + direction;
    if (index >= 0 && index < this.order.length) this.#show(this.order[index]);
  }

  #askDelete(asking) {
    this.confirm.hidden = !asking;
    this.deleteButton.hidden = asking;
    if (asking) this.confirmYes.focus();
  }

  async #delete() {
    const id = this.current;
    this.confirmYes.disabled = true;
    try {
      await api.deleteEvent(id);
    } catch (error) {
      if (error.status !== 404) { // already gone counts as deleted
        setText(this.error, `Could not delete the clip: ${error.message}`);
        this.confirmYes.disabled = false;
        return;
      }
    }
    this.confirmYes.disabled = false;
    const index = this.order.indexOf(id);
    this.order = this.order.filter((other) => other !== id);
    this.events.delete(id);
    this.dispatchEvent(new CustomEvent("deleted", { detail: { id } }));
    const following = this.order[Math.min(index, this.order.length - 1)];
    if (following) this.#show(following);
    else this.dialog.close();
  }

  #unload() {
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.removeAttribute("poster");
    this.video.load(); // drops the connection and the decoder
    this.current = null;
  }
}
