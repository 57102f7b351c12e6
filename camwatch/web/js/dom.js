// Tiny DOM helpers: build elements without innerHTML (no injection, nothing inline for the CSP).

/**
 * h("button", {class: "x", onclick: fn, "aria-label": "Close"}, "text", child)
 * Keys: class, dataset (object), on<event> (listener), anything else becomes an attribute
 * (true -> empty attribute; false/null/undefined -> left out).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** Set textContent only when it changed (avoids needless layout and screen reader chatter). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** An inline SVG icon from the sprite in index.html (aria-hidden: the control has the name). */
export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(ns, "use");
  use.setAttribute("href", `#i-${name}`);
  svg.append(use);
  return svg;
}
