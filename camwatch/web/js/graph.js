// The live motion graph: delta over the last minute against the threshold line, on a canvas.

const WINDOW_S = 60;

export class MotionGraph {
  constructor(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.points = []; // [t (s, server clock), delta], oldest first
    this.threshold = 0;
    this.frame = 0;
    this.colors = null;
    new ResizeObserver(() => this.#resize()).observe(canvas);
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
      this.colors = null;
      this.schedule();
    });
  }

  /** Replace the data with [[t, delta], ...] from the history endpoint. */
  load(points, threshold) {
    this.points = points.slice(-WINDOW_S * 60);
    if (threshold !== undefined) this.threshold = threshold;
    this.#trim();
    this.schedule();
  }

  push(t, delta, threshold) {
    const last = this.points[this.points.length - 1];
    if (threshold !== undefined) this.threshold = threshold;
    if (last && t <= last[0]) return;
    this.points.push([t, delta]);
    this.#trim();
    this.schedule();
  }

  get latest() {
    const last = this.points[this.points.length - 1];
    return last ? last[1] : 0;
  }

  /** Draw on the next animation frame, at most once per frame however many points arrive. */
  schedule() {
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.draw();
      });
    }
  }

  #trim() {
    const last = this.points[this.points.length - 1];
    if (!last) return;
    let drop = 0;
    while (drop < this.points.length && this.points[drop][0] < last[0] - WINDOW_S) drop += 1;
    if (drop) this.points.splice(0, drop);
  }

  #resize() {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.round(this.canvas.clientWidth * ratio);
    const height = Math.round(this.canvas.clientHeight * ratio);
    if (width && height && (width !== this.canvas.width || height !== this.canvas.height)) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.draw();
    }
  }

  #readColors() {
    const style = getComputedStyle(this.canvas);
    const read = (name) => style.getPropertyValue(name).trim();
    return {
      line: read("--graph-line"), fill: read("--graph-fill"), alert: read("--graph-alert"),
      threshold: read("--graph-threshold"), grid: read("--graph-grid"),
    };
  }

  draw() {
    const { canvas, context: ctx, points } = this;
    const { width, height } = canvas;
    this.colors ??= this.#readColors();
    const colors = this.colors;
    const ratio = window.devicePixelRatio || 1;
    ctx.clearRect(0, 0, width, height);
    canvas.dataset.points = String(points.length);
    if (!width || !height) return;

    let peak = 0;
    for (const [, delta] of points) peak = Math.max(peak, delta);
    const top = Math.max(this.threshold * 2, peak * 1.15, 0.5);
    const pad = 2 * ratio;
    const y = (value) => height - pad - (Math.min(Math.max(value, 0), top) / top) * (height - 2 * pad);
    const newest = points.length ? points[points.length - 1][0] : 0;
    const x = (t) => width - ((newest - t) / WINDOW_S) * width;

    ctx.lineWidth = ratio;
    ctx.strokeStyle = colors.grid;
    ctx.beginPath();
    for (let s = 15; s < WINDOW_S; s += 15) {
      const gx = Math.round(x(newest - s)) + 0.5;
      ctx.moveTo(gx, 0);
      ctx.lineTo(gx, height);
    }
    ctx.stroke();

    if (points.length > 1) {
      const path = new Path2D();
      points.forEach(([t, delta], i) => (i ? path.lineTo(x(t), y(delta)) : path.moveTo(x(t), y(delta))));
      const area = new Path2D(path);
      area.lineTo(x(newest), height);
      area.lineTo(x(points[0][0]), height);
      area.closePath();
      ctx.fillStyle = colors.fill;
      ctx.fill(area);
      ctx.lineWidth = 1.5 * ratio;
      ctx.lineJoin = "round";
      ctx.strokeStyle = colors.line;
      ctx.stroke(path);
      // the part above the threshold again, in the alert colour
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, 0, width, y(this.threshold));
      ctx.clip();
      ctx.strokeStyle = colors.alert;
      ctx.lineWidth = 2 * ratio;
      ctx.stroke(path);
      ctx.restore();
    }

    const ty = Math.round(y(this.threshold)) + 0.5;
    ctx.setLineDash([4 * ratio, 3 * ratio]);
    ctx.lineWidth = ratio;
    ctx.strokeStyle = colors.threshold;
    ctx.beginPath();
    ctx.moveTo(0, ty);
    ctx.lineTo(width, ty);
    ctx.stroke();
    ctx.setLineDash([]);
  }
}
