// Login page: posts the credentials as JSON; the server answers with an HttpOnly session cookie.
const form = document.getElementById("login");
const message = document.getElementById("message");
const button = form.querySelector("button");

/** Where to go after logging in: `next` if it is a plain path under this server, else the UI. */
function destination() {
  const next = new URLSearchParams(location.search).get("next") ?? "";
  const safe = /^[A-Za-z0-9_\-./]*$/.test(next) && !next.startsWith("/") && !next.includes("..");
  return new URL(safe && next ? next : ".", document.baseURI).href;
}

function show(text) {
  message.textContent = text;
  message.hidden = !text;
}

async function alreadyLoggedIn() {
  try {
    const response = await fetch("api/status", { cache: "no-store" });
    if (response.ok) location.replace(destination());
  } catch {
    // the server is unreachable: stay here
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  button.disabled = true;
  show("");
  try {
    const response = await fetch("login", {
      method: "POST",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "X-Requested-With": "camwatch" },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    if (response.ok) {
      location.replace(destination());
      return;
    }
    const data = await response.json().catch(() => ({}));
    show(data.error ?? `Login failed (${response.status}).`);
    form.password.select();
  } catch {
    show("Cannot reach the camwatch server.");
  } finally {
    button.disabled = false;
  }
});

alreadyLoggedIn();
