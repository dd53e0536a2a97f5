// The console's shell: sign-in, role-aware navigation, hash routes (#/admin/queues), the language picker
// and the shared live event stream.
import { api, setToken, token } from "./api.js";
import { h, clear } from "./dom.js";
import { EventStream } from "./events.js";
import { LANGUAGES, applyStatic, language, onLanguageChange, setLanguage, t } from "./i18n.js";
import { schemas } from "./forms.js";
import { ROUTES } from "./routes.js";
import { setupShortcutHelp } from "./shortcuts.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const shortcuts = document.getElementById("shortcuts");
const session = { me: null, events: new EventStream() };
window.duplex = session; // for the browser tests and for debugging from the console

function allowed(route) {
  return session.me && route.roles.includes(session.me.role);
}

function renderNav() {
  clear(nav);
  if (!session.me) return;
  const current = location.hash.slice(1) || "/";
  const groups = new Map();
  for (const route of ROUTES.filter(allowed)) {
    if (!groups.has(route.group)) groups.set(route.group, []);
    groups.get(route.group).push(route);
  }
  for (const [group, routes] of groups) {
    const list = h("ul", {}, ...routes.map((r) => h("li", {},
      h("a", { href: `#${r.path}`, "aria-current": r.path === current ? "page" : false }, t(r.title)))));
    nav.append(h("div", { class: "nav-group" }, h("h2", {}, t(group)), list));
  }
}

// Each render draws into its own container. A view still loading when the user moves on draws into a
// detached container, and its listeners are removed as soon as it returns.
let cleanup = null;
let generation = 0;
async function render() {
  const mine = ++generation;
  if (cleanup) { cleanup(); cleanup = null; }
  renderNav();
  if (!session.me) return renderLogin();
  const path = location.hash.slice(1) || "/";
  const route = ROUTES.find((r) => r.path === path && allowed(r)) || ROUTES.find(allowed);
  const heading = h("h1", { tabindex: "-1" }, t(route.title));
  const container = h("div", { class: "view" });
  clear(main).append(heading, container);
  document.title = `${t(route.title)} - Duplex`;
  heading.focus();
  try {
    const done = (await route.view(container, session)) || null;
    if (mine === generation) cleanup = done;
    else if (done) done();
  } catch (err) {
    container.append(h("p", { class: "error", role: "alert" }, err.message));
  }
}

function renderLogin() {
  clear(main);
  who.textContent = "";
  document.getElementById("logout").hidden = true;
  shortcuts.hidden = true;
  const error = h("p", { class: "field-error", role: "alert", id: "login-error" });
  const user = h("input", { id: "login-username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { id: "login", class: "login" },
    h("h1", {}, t("login.title")),
    h("div", { class: "field" }, h("label", { for: "login-username" }, t("login.username")), user),
    h("div", { class: "field" }, h("label", { for: "login-password" }, t("login.password")), pass),
    h("button", { type: "submit" }, t("login.submit")), error,
    h("p", { class: "hint" }, t("login.hint")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const answer = await api("/auth/token", { method: "POST", body: { username: user.value, password: pass.value } });
      setToken(answer.access_token);
      await start();
    } catch (err) {
      error.textContent = t("login.failed", { reason: err.message });
      pass.focus();
    }
  });
  main.append(form);
  user.focus();
}

async function start() {
  try {
    session.me = await api("/auth/me");
  } catch {
    setToken(null);
    session.me = null;
    return render();
  }
  who.textContent = `${session.me.full_name || session.me.username} · ${t(`role.${session.me.role}`)}`;
  document.getElementById("logout").hidden = false;
  shortcuts.hidden = false;
  session.events.start();
  schemas().catch(() => null); // fetched now so the first form opens at once
  await render();
}

function setupChrome() {
  const picker = document.getElementById("language");
  for (const lang of LANGUAGES) picker.append(h("option", { value: lang, selected: lang === language() }, t(`language.${lang}`)));
  picker.addEventListener("change", () => setLanguage(picker.value));
  onLanguageChange(() => {
    for (const option of picker.options) option.textContent = t(`language.${option.value}`);
    if (session.me) who.textContent = `${session.me.full_name || session.me.username} · ${t(`role.${session.me.role}`)}`;
    render();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await api("/auth/logout", { method: "POST" }).catch(() => null);
    session.events.stop();
    setToken(null);
    session.me = null;
    location.hash = "";
    render();
  });
  const live = document.getElementById("live-status");
  session.events.onStatus((status) => {
    live.dataset.status = status;
    live.textContent = t(`live.${status}`);
  });
  onLanguageChange(() => { live.textContent = t(`live.${session.events.status}`); });
  window.addEventListener("hashchange", render);
  setupShortcutHelp(shortcuts, main);
  applyStatic();
}

setupChrome();
if (token()) start(); else render();
