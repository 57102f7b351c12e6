// Live view: one tile per camera, frames over a websocket relative to this page's own URL.
const grid = document.getElementById("cameras");
const banner = document.getElementById("banner");

function socketUrl(path) {
  const url = new URL(path, document.baseURI);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

function liveTile(camera) {
  const tile = document.createElement("article");
  tile.className = "camera";
  tile.dataset.camera = camera.name;
  const img = document.createElement("img");
  img.alt = `Live view of ${camera.name}`;
  const meta = document.createElement("div");
  meta.className = "meta";
  tile.append(img, meta);
  let previousUrl = null;
  let frames = 0;

  function connect() {
    const ws = new WebSocket(socketUrl(`cameras/${camera.name}/ws`));
    ws.binaryType = "blob";
    ws.onmessage = (event) => {
      const url = URL.createObjectURL(event.data);
      img.src = url;
      if (previousUrl) URL.revokeObjectURL(previousUrl);
      previousUrl = url;
      frames += 1;
    };
    ws.onclose = () => setTimeout(connect, 1000);
  }
  connect();
  return { tile, meta, countFrames: () => { const n = frames; frames = 0; return n; } };
}

async function refresh(tiles) {
  let cameras;
  try {
    cameras = await (await fetch("api/cameras")).json();
  } catch {
    return;
  }
  const fallback = cameras.some((c) => c.demo_fallback);
  banner.hidden = !fallback;
  banner.textContent = fallback ? "No webcam found: showing the built-in demo camera." : "";
  for (const camera of cameras) {
    if (!tiles.has(camera.name)) {
      const live = liveTile(camera);
      tiles.set(camera.name, live);
      grid.append(live.tile);
    }
    const { meta } = tiles.get(camera.name);
    meta.replaceChildren(
      badge(camera.name, ""),
      badge(camera.online ? "online" : "offline", camera.online ? "" : "offline"),
      badge(`${camera.fps.toFixed(1)} fps`, ""),
      badge(camera.recording ? "● REC" : "", "rec"),
    );
  }
}

function badge(text, cls) {
  const span = document.createElement("span");
  span.className = `badge ${cls}`;
  span.textContent = text;
  return span;
}

const tiles = new Map();
refresh(tiles);
setInterval(() => refresh(tiles), 2000);
