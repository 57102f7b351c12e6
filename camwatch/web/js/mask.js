// Mask editor: draw areas where motion is ignored on a snapshot; saved as normalised polygons.

import { api, pageUrl } from "./api.js";
import { h, setText } from "./dom.js";

export class MaskEditor {
  constructor(name, mask, onSaved) {
    this.name = name;
    this.polygons = structuredClone(mask ?? []);
    this.points = []; // the area being drawn
    this.onSaved = onSaved;
    this.image = h("img", { class: "mask-picture", alt: `Snapshot of ${name} for drawing masks` });
    this.canvas = h("canvas", { class: "mask-canvas", "aria-label": `Mask areas of ${name}`,
                                onclick: (e) => this.#addPoint(e) });
    this.image.addEventListener("load", () => this.#draw());
    this.image.addEventListener("error", () => {
      setText(this.status, "No picture from the camera right now; the areas are listed below.");
    });
    this.status = h("p", { class: "form-status", role: "status", "aria-live": "polite" });
    this.list = h("ol", { class: "mask-areas", "aria-label": `Ignored areas of ${name}`, hidden: true });
    this.el = h("fieldset", { class: "mask-editor" },
      h("legend", {}, "Ignored areas"),
      h("p", { class: "hint" }, "Click points on the picture to outline an area where motion is "
        + "ignored (a road, a tree), then Finish area and Save areas."),
      h("div", { class: "mask-stage" }, this.image, this.canvas),
      this.list,
      h("div", { class: "form-actions" },
        h("button", { class: "button", type: "button", onclick: () => this.#reload() }, "New snapshot"),
        h("button", { class: "button", type: "button", onclick: () => this.#undoPoint() }, "Undo point"),
        h("button", { class: "button", type: "button", onclick: () => this.#finish() }, "Finish area"),
        h("button", { class: "button ghost", type: "button", onclick: () => this.#clear() }, "Clear areas"),
        h("button", { class: "button primary", type: "button", onclick: () => this.#save() }, "Save areas"),
        this.status));
    this.#list(); // listed (and removable) even if no snapshot loads
    this.#reload();
  }

  #reload() {
    const url = pageUrl(`cameras/${encodeURIComponent(this.name)}/snapshot.jpg`);
    url.searchParams.set("t", Date.now());
    this.image.src = url.href;
  }

  #addPoint(event) {
    const box = this.canvas.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const y = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
    this.points.push([Number(x.toFixed(4)), Number(y.toFixed(4))]);
    this.#draw();
  }

  #undoPoint() {
    if (this.points.pop() === undefined) setText(this.status, "No point to undo.");
    this.#draw();
  }

  #remove(index) {
    this.polygons.splice(index, 1);
    setText(this.status, `Area ${index + 1} removed, not saved yet.`);
    this.#draw();
    // the list was rebuilt: keep keyboard focus on the area that took this one's place
    const buttons = this.list.querySelectorAll("button");
    buttons[Math.min(index, buttons.length - 1)]?.focus();
  }

  #finish() {
    if (this.points.length < 3) {
      setText(this.status, "An area needs at least three points.");
      return;
    }
    this.polygons.push(this.points);
    this.points = [];
    setText(this.status, `${this.polygons.length} area(s), not saved yet.`);
    this.#draw();
  }

  #clear() {
    this.polygons = [];
    this.points = [];
    setText(this.status, "No areas, not saved yet.");
    this.#draw();
  }

  async #save() {
    if (this.points.length >= 3) this.#finish();
    try {
      await api.updateMotion(this.name, { mask: this.polygons });
      setText(this.status, "Saved. Motion in these areas is ignored.");
      this.onSaved?.();
    } catch (error) {
      setText(this.status, error.message || "The areas could not be saved.");
    }
  }

  #draw() {
    const width = this.image.naturalWidth || 640;
    const height = this.image.naturalHeight || 360;
    if (this.canvas.width !== width) this.canvas.width = width;
    if (this.canvas.height !== height) this.canvas.height = height;
    const ctx = this.canvas.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    ctx.lineWidth = Math.max(2, width / 320);
    const trace = (points) => {
      ctx.beginPath();
      points.forEach(([x, y], i) => (i ? ctx.lineTo(x * width, y * height) : ctx.moveTo(x * width, y * height)));
    };
    ctx.font = `bold ${Math.round(Math.max(14, width / 30))}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    this.polygons.forEach((polygon, i) => {
      trace(polygon);
      ctx.closePath();
      ctx.fillStyle = "rgba(220, 38, 38, 0.35)";
      ctx.strokeStyle = "rgb(220, 38, 38)";
      ctx.fill();
      ctx.stroke();
      const [cx, cy] = centre(polygon);
      ctx.fillStyle = "#fff";
      ctx.fillText(String(i + 1), cx * width, cy * height); // matches the list below
    });
    if (this.points.length) {
      trace(this.points);
      ctx.strokeStyle = "rgb(250, 204, 21)";
      ctx.stroke();
      for (const [x, y] of this.points) ctx.fillRect(x * width - 3, y * height - 3, 6, 6);
    }
    this.canvas.dataset.areas = String(this.polygons.length);
    this.#list();
  }

  #list() {
    this.list.replaceChildren(...this.polygons.map((polygon, i) => h("li", {},
      `Area ${i + 1} (${polygon.length} points) `,
      h("button", { class: "button ghost", type: "button", "aria-label": `Remove area ${i + 1}`,
                    onclick: () => this.#remove(i) }, "Remove"))));
    this.list.hidden = this.polygons.length === 0;
  }
}

/** The average of a polygon's corners: where its number is drawn. */
function centre(points) {
  const sum = points.reduce(([sx, sy], [x, y]) => [sx + x, sy + y], [0, 0]);
  return [sum[0] / points.length, sum[1] / points.length];
}
