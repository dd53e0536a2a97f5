// The Duplex console: signs in through the API and shows the center's configuration and live events.
"use strict";
const api = (path, opts = {}) => {
  const token = sessionStorage.getItem("duplex.token");
  const headers = Object.assign({"Content-Type": "application/json"}, opts.headers || {});
  if (token) headers.Authorization = "Bearer " + token;
  return fetch("/api/v1" + path, Object.assign({}, opts, {headers})).then(async (r) => {
    if (!r.ok) throw new Error((await r.json().catch(() => ({}))).detail || r.statusText);
    return r.json();
  });
};
const esc = (v) => String(v ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
const table = (id, cols, rows) => {
  document.getElementById(id).innerHTML =
    "<tr>" + cols.map((c) => `<th>${esc(c)}</th>`).join("") + "</tr>" +
    rows.map((r) => "<tr>" + cols.map((c) => `<td>${esc(r[c])}</td>`).join("") + "</tr>").join("");
};
async function load() {
  const me = await api("/auth/me");
  document.getElementById("who").textContent = `${me.username} (${me.role})`;
  document.getElementById("login-box").hidden = true;
  document.getElementById("center").hidden = false;
  const page = async (path) => (await api(path + "?limit=100").catch(() => ({items: []}))).items;
  table("numbers", ["number", "description", "tracking_source"], await page("/phone-numbers"));
  table("queues", ["name", "strategy", "service_level_seconds"], await page("/queues"));
  table("agents", ["extension", "sip_username", "state"], await page("/agents"));
  table("campaigns", ["name", "dial_mode", "status"], await page("/campaigns"));
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/api/v1/events?token=${sessionStorage.getItem("duplex.token")}`);
  ws.onmessage = (m) => {
    const li = document.createElement("li");
    li.textContent = m.data;
    const list = document.getElementById("events");
    list.prepend(li);
    while (list.children.length > 200) list.lastChild.remove();
  };
}
document.getElementById("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    const tok = await api("/auth/token", {method: "POST",
      body: JSON.stringify({username: form.get("username"), password: form.get("password")})});
    sessionStorage.setItem("duplex.token", tok.access_token);
    document.getElementById("login-error").textContent = "";
    await load();
  } catch (err) {
    document.getElementById("login-error").textContent = "Sign-in failed: " + err.message;
  }
});
document.getElementById("logout").addEventListener("click", async () => {
  await api("/auth/logout", {method: "POST"}).catch(() => null);
  sessionStorage.removeItem("duplex.token");
  location.reload();
});
if (sessionStorage.getItem("duplex.token")) load().catch(() => sessionStorage.removeItem("duplex.token"));
