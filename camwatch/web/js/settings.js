// Settings view: each camera's motion settings in a form, saved with PATCH and applied live.

import { api } from "./api.js";
import { h, setText } from "./dom.js";
import { percent } from "./format.js";
import { MaskEditor } from "./mask.js";

const FIELDS = [
  { key: "threshold", label: "Motion threshold", unit: "% of picture", min: 0, max: 100, step: 0.01,
    hint: "A frame counts as motion when more than this share of the picture changes." },
  { key: "pixel_threshold", label: "Pixel sensitivity", unit: "grey levels", min: 1, max: 255, step: 1,
    integer: true, hint: "How much a pixel must change to count. Lower is more sensitive." },
  { key: "stable_frames", label: "Stop after", unit: "still frames", min: 1, max: 1000, step: 1,
    integer: true, hint: "Recording stops after this many frames in a row below the threshold." },
  { key: "min_motion_frames", label: "Minimum motion", unit: "frames", min: 1, max: 10000, step: 1,
    integer: true, hint: "Events with fewer frames of motion are discarded." },
  { key: "pre_roll_seconds", label: "Pre-roll", unit: "seconds", min: 0, max: 30, step: 0.1,
    hint: "Video kept from before the motion started." },
  { key: "max_event_seconds", label: "Longest clip", unit: "seconds", min: 5, max: 86400, step: 1,
    hint: "Longer events are split into several clips." },
];

class MotionForm {
  constructor(camera, store) {
    this.name = camera.name;
    this.store = store;
    this.saved = { ...camera.motion }; // the server's values, to tell what the user changed
    this.inputs = new Map();
    this.#build();
    this.#fill(this.saved, true);
  }

  #build() {
    const id = (key) => `motion-${this.name}-${key}`;
    this.enabled = h("input", { id: id("enabled"), type: "checkbox", role: "switch", name: "enabled" });
    const rows = FIELDS.map((field) => {
      const input = h("input", {
        id: id(field.key), name: field.key, type: "number", inputmode: field.integer ? "numeric" : "decimal",
        min: field.min, max: field.max, step: field.step, required: true,
        "aria-describedby": `${id(field.key)}-hint`,
      });
      this.inputs.set(field.key, input);
      return h("div", { class: "field" },
        h("label", { for: id(field.key) }, field.label),
        h("div", { class: "input-unit" }, input, h("span", { class: "unit" }, field.unit)),
        h("p", { class: "hint", id: `${id(field.key)}-hint` }, field.hint));
    });
    this.live = h("span", { class: "live-delta" });
    this.status = h("p", { class: "form-status", role: "status", "aria-live": "polite" });
    this.error = h("p", { class: "form-error", role: "alert", id: id("error") });
    this.save = h("button", { class: "button primary", type: "submit" }, "Save");
    this.reset = h("button", { class: "button ghost", type: "button", onclick: () => this.#revert() },
      "Undo changes");
    this.el = h("form", { class: "settings-card", novalidate: true, dataset: { camera: this.name },
                          "aria-labelledby": id("title"), "aria-describedby": id("error"),
                          onsubmit: (e) => { e.preventDefault(); this.#submit(); },
                          oninput: (e) => { e.target.removeAttribute("aria-invalid"); this.#dirtyChanged(); } },
      h("div", { class: "settings-head" },
        h("h2", { id: id("title") }, this.name), this.live),
      h("label", { class: "switch", for: id("enabled") }, this.enabled,
        h("span", { class: "switch-track", "aria-hidden": "true" }),
        h("span", {}, "Detect motion and record events")),
      h("div", { class: "fields" }, rows),
      h("div", { class: "form-actions" }, this.save, this.reset, this.status),
      this.error);
    // masks are saved on their own, beside the form
    this.card = h("section", { class: "settings-camera" }, this.el,
      new MaskEditor(this.name, this.saved.mask, () => this.store.refresh()).el);
  }

  #values() {
    const values = { enabled: this.enabled.checked };
    for (const field of FIELDS) values[field.key] = this.inputs.get(field.key).valueAsNumber;
    return values;
  }

  #changes() {
    const values = this.#values();
    return Object.fromEntries(Object.entries(values).filter(([key, value]) => value !== this.saved[key]));
  }

  /** Show server values; fields the user is editing are left alone unless `all`. */
  #fill(motion, all = false) {
    const changed = all ? {} : this.#changes();
    if (all || !("enabled" in changed)) this.enabled.checked = Boolean(motion.enabled);
    for (const field of FIELDS) {
      const input = this.inputs.get(field.key);
      if ((all || !(field.key in changed)) && motion[field.key] !== undefined) {
        input.value = String(motion[field.key]);
      }
    }
    this.#dirtyChanged();
  }

  #dirtyChanged() {
    const dirty = Object.keys(this.#changes()).length > 0;
    this.el.classList.toggle("dirty", dirty);
    this.reset.disabled = !dirty;
  }

  #revert() {
    this.#fill(this.saved, true);
    setText(this.error, "");
    setText(this.status, "");
  }

  update(camera) {
    const previous = this.saved;
    this.saved = { ...camera.motion };
    const stillDirty = this.#changes();
    // adopt server-side changes (another browser, the config) in fields not being edited
    if (JSON.stringify(previous) !== JSON.stringify(this.saved) || !Object.keys(stillDirty).length) {
      this.#fill(this.saved);
    }
    setText(this.live, camera.motion?.enabled === false ? "detection off"
      : `now ${percent(camera.delta)}${camera.recording ? " · recording" : ""}`);
  }

  async #submit() {
    setText(this.error, "");
    const changes = this.#changes();
    const bad = FIELDS.find((field) => field.key in changes && Number.isNaN(changes[field.key]));
    if (bad) {
      setText(this.error, `${bad.label}: enter a number.`);
      this.inputs.get(bad.key).focus();
      return;
    }
    if (!Object.keys(changes).length) {
      setText(this.status, "Nothing to save.");
      return;
    }
    this.save.disabled = true;
    setText(this.status, "Saving…");
    this.el.dataset.state = "saving";
    try {
      const reply = await api.updateMotion(this.name, changes);
      const motion = reply?.motion ?? (reply && "threshold" in reply ? reply : null);
      this.saved = { ...this.saved, ...changes, ...(motion ?? {}) };
      this.#fill(this.saved, true);
      this.el.dataset.state = "saved";
      setText(this.status, "Saved. The new settings are in use.");
      this.store.refresh();
    } catch (error) {
      this.el.dataset.state = "error";
      setText(this.status, "");
      setText(this.error, error.message || "The settings could not be saved.");
      const field = FIELDS.find((f) => error.message?.includes(f.key));
      if (field) this.inputs.get(field.key).setAttribute("aria-invalid", "true");
    } finally {
      this.save.disabled = false;
    }
  }
}

export class SettingsView {
  constructor(root, store) {
    this.root = root;
    this.store = store;
    this.forms = new Map();
    this.intro = h("p", { class: "lede" },
      "Motion settings apply at once and are kept across restarts. Watch the motion graph in the ",
      h("a", { href: "#live" }, "live view"), " while you tune the threshold.");
    this.list = h("div", { class: "settings-list" });
    root.append(this.intro, this.list);
    store.addEventListener("change", () => this.render());
  }

  render() {
    for (const camera of this.store.cameras) {
      let form = this.forms.get(camera.name);
      if (!form) {
        form = new MotionForm(camera, this.store);
        this.forms.set(camera.name, form);
        this.list.append(form.card);
      }
      form.update(camera);
    }
    for (const [name, form] of this.forms) {
      if (!this.store.get(name)) {
        form.card.remove();
        this.forms.delete(name);
      }
    }
  }
}
