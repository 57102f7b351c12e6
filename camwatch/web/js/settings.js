// Settings view: each camera's switches and motion settings in a form, saved with PATCH and
// applied live. Detection is the motion setting `enabled`; recordings is the camera's own switch.

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

/** The values the form edits, as the server has them: the motion settings and `recordings`. */
function serverValues(camera) {
  return { ...camera.motion, recordings: camera.recordings !== false };
}

class MotionForm {
  constructor(camera, store) {
    this.name = camera.name;
    this.store = store;
    this.saved = serverValues(camera); // the server's values, to tell what the user changed
    this.inputs = new Map();
    this.#build();
    this.#fill(this.saved);
  }

  #build() {
    const id = (key) => `motion-${this.name}-${key}`;
    this.enabled = h("input", { id: id("enabled"), type: "checkbox", role: "switch", name: "enabled" });
    this.recordings = h("input", {
      id: id("recordings"), type: "checkbox", role: "switch", name: "recordings",
      "aria-describedby": `${id("recordings")}-hint`,
    });
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
      h("div", { class: "switches" },
        h("label", { class: "switch", for: id("enabled") }, this.enabled,
          h("span", { class: "switch-track", "aria-hidden": "true" }),
          h("span", {}, "Detect motion")),
        h("label", { class: "switch", for: id("recordings") }, this.recordings,
          h("span", { class: "switch-track", "aria-hidden": "true" }),
          h("span", {}, "Record events")),
        h("p", { class: "hint", id: `${id("recordings")}-hint` },
          "With recording off, motion is still detected and reported (MQTT, the motion graph) "
          + "but no clip is written.")),
      h("div", { class: "fields" }, rows),
      h("div", { class: "form-actions" }, this.save, this.reset, this.status),
      this.error);
    // masks are saved on their own, beside the form
    this.card = h("section", { class: "settings-camera" }, this.el,
      new MaskEditor(this.name, this.saved.mask, () => this.store.refresh()).el);
  }

  #values() {
    const values = { enabled: this.enabled.checked, recordings: this.recordings.checked };
    for (const field of FIELDS) values[field.key] = this.inputs.get(field.key).valueAsNumber;
    return values;
  }

  #changes() {
    const values = this.#values();
    return Object.fromEntries(Object.entries(values).filter(([key, value]) => value !== this.saved[key]));
  }

  /** Show server values, leaving alone the fields in `editing` (the user's unsaved changes). */
  #fill(values, editing = {}) {
    if (!("enabled" in editing)) this.enabled.checked = Boolean(values.enabled);
    if (!("recordings" in editing)) this.recordings.checked = values.recordings !== false;
    for (const field of FIELDS) {
      const input = this.inputs.get(field.key);
      if (!(field.key in editing) && values[field.key] !== undefined) {
        input.value = String(values[field.key]);
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
    this.#fill(this.saved);
    setText(this.error, "");
    setText(this.status, "");
  }

  update(camera) {
    // what the user changed, against the values the form was showing from the server
    const editing = this.#changes();
    const previous = JSON.stringify(this.saved);
    this.saved = serverValues(camera);
    // adopt server-side changes (another browser, Home Assistant, the API) in fields not being
    // edited
    if (previous !== JSON.stringify(this.saved) || !Object.keys(editing).length) {
      this.#fill(this.saved, editing);
    }
    const recording = camera.recordings === false ? " · recording off"
      : camera.recording ? " · recording" : "";
    setText(this.live, camera.motion?.enabled === false ? "detection off"
      : `now ${percent(camera.delta)}${recording}`);
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
    const { recordings, ...motionChanges } = changes;
    try {
      let motion = null;
      if (recordings !== undefined) {
        const camera = await api.updateCamera(this.name, { recordings });
        this.saved = { ...this.saved, recordings: camera?.recordings ?? recordings };
      }
      if (Object.keys(motionChanges).length) {
        const reply = await api.updateMotion(this.name, motionChanges);
        motion = reply?.motion ?? (reply && "threshold" in reply ? reply : null);
      }
      this.saved = { ...this.saved, ...motionChanges, ...(motion ?? {}) };
      this.#fill(this.saved);
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
      "Settings apply at once and are kept across restarts. Watch the motion graph in the ",
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
