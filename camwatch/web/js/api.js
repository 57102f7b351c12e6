// Server API: every URL is relative to the page (works on any port and behind a path prefix).

export class ApiError extends Error {
  constructor(message, status, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0 when the server could not be reached
    this.body = body;
  }
}

/** A server path ("api/cameras" or a server-root path like "/media/x.mp4") against the page. */
export function pageUrl(path) {
  return new URL(String(path).replace(/^\/+/, ""), document.baseURI);
}

/** The websocket URL for a server path, same host and prefix as the page. */
export function socketUrl(path) {
  const url = pageUrl(path);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

async function request(path, { method = "GET", body, params, signal } = {}) {
  const url = pageUrl(path);
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const init = { method, signal, cache: "no-store", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("Cannot reach the camwatch server.", 0);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data?.error ?? `${response.status} ${response.statusText}`.trim();
    throw new ApiError(message, response.status, data);
  }
  return data;
}

const cameraPath = (name) => `api/cameras/${encodeURIComponent(name)}`;

export const api = {
  cameras: (signal) => request("api/cameras", { signal }),
  motionHistory: (name, signal) => request(`${cameraPath(name)}/motion/history`, { signal }),
  updateMotion: (name, changes) =>
    request(`${cameraPath(name)}/motion`, { method: "PATCH", body: changes }),
  /** `{"detect": bool, "recordings": bool}` (either); replies with the camera. */
  updateCamera: (name, changes) => request(cameraPath(name), { method: "PATCH", body: changes }),
  /** Newest first; `before` is `cursorOf(event)` or `beforeTime(ms)`. */
  events: ({ camera, limit, before } = {}, signal) =>
    request("api/events", { params: { camera, limit, before }, signal }),
  deleteEvent: (id) => request(`api/events/${encodeURIComponent(id)}`, { method: "DELETE" }),
  /** The footage on disk between start and end (Unix seconds), oldest first. */
  recordings: (name, start, end, signal) =>
    request(`${cameraPath(name)}/recordings`, { params: { start, end }, signal }),
  /** The peak motion delta of each `step` seconds. */
  activity: (name, start, end, step, signal) =>
    request(`${cameraPath(name)}/activity`, { params: { start, end, step }, signal }),
};

/**
 * The `before=` value that asks for the events after this one in the list (older, or as old
 * with a smaller id): its id, which the server turns into an exact position.
 */
export function cursorOf(event) {
  return event.id;
}

/** The `before=` value for a moment (epoch ms): ISO 8601 UTC. */
export function beforeTime(ms) {
  return new Date(ms).toISOString();
}

/** An event's start as epoch milliseconds. */
export function startOf(event) {
  return Date.parse(event.started_at);
}
