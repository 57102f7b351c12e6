// Login state for the main page: a warning when the server is open to the network without a
// password, a logout button when logins are on, and back to the login page once a session ends.
const CHECK_INTERVAL_MS = 30000;

function banner(text) {
  const element = document.createElement("div");
  element.className = "banner security-banner";
  element.setAttribute("role", "alert");
  element.textContent = text;
  const header = document.querySelector("header.topbar") ?? document.querySelector("header");
  if (header) header.after(element);
  else document.body.prepend(element);
}

function logoutButton() {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "logout";
  button.textContent = "Log out";
  button.addEventListener("click", async () => {
    await fetch("logout", { method: "POST", headers: { "X-Requested-With": "camwatch" } })
      .catch(() => {});
    location.replace("login");
  });
  (document.querySelector("header.topbar") ?? document.querySelector("header"))?.append(button);
}

async function status() {
  const response = await fetch("api/status", { cache: "no-store" });
  if (response.status === 401) {
    location.replace("login");
    return null;
  }
  return response.ok ? response.json() : null;
}

async function start() {
  let state = null;
  try {
    state = await status();
  } catch {
    return;
  }
  if (!state) return;
  if (state.insecure) {
    banner("Anyone on your network can watch these cameras: set a password "
      + "(CAMWATCH_PASSWORD or [server] password) to protect them.");
  }
  if (state.auth) logoutButton();
  setInterval(() => status().catch(() => {}), CHECK_INTERVAL_MS);
}

start();
