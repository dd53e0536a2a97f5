// Views fed by the event stream: the console's overview, the supervisor wallboard and the agent desktop.
import { createScreenPop } from "./screenpop.js";
import { api, listAll } from "./api.js";
import { clear, h } from "./dom.js";
import { t } from "./i18n.js";
import { outboundPanel } from "./outbound.js";
import { createMonitorPanel } from "./monitor.js";
import { createSoftphone, loadSipLibrary } from "./softphone.js";
import { QUEUE_FIGURES, boardFeed, campaignBoard, queueFigureCells } from "./wallboard_figures.js";

const AUX_STATES = ["break", "lunch", "meeting", "training"];

// Whether an agent takes a queue's calls: a member, or skills that meet every skill level the queue asks for.
function serves(agent, queue, queueMembers = []) {
  if (queueMembers.some((m) => m.agent_id === agent.id)) return true;
  return queue.skills.length > 0 && queue.skills.every((need) =>
    agent.skills.some((s) => s.skill_id === need.skill_id && s.proficiency >= need.min_proficiency));
}

function duration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "–";
  const s = Math.floor(ms / 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

function eventLine(envelope) {
  const when = new Date(envelope.ts_ms).toLocaleTimeString();
  const ids = ["agent_id", "queue_id", "campaign_id", "call_id"].filter((k) => envelope[k] != null).map((k) => `${k}=${envelope[k]}`);
  return h("li", { "data-type": envelope.type, "data-id": envelope.id },
    h("time", {}, when), " ", h("strong", {}, envelope.type), " ", ids.join(" "), " ", JSON.stringify(envelope.data || {}));
}

function eventList(session) {
  const list = h("ol", { id: "events", class: "events", reversed: true, "aria-live": "polite", "aria-relevant": "additions" });
  const off = session.events.on((envelope) => {
    list.prepend(eventLine(envelope));
    while (list.children.length > 200) list.lastChild.remove();
  });
  return { list, off };
}

export async function consoleView(main, session) {
  const counts = [["queues", "/queues"], ["agents", "/agents"], ["campaigns", "/campaigns"], ["phone-numbers", "/phone-numbers"]];
  const tiles = h("div", { class: "tiles" });
  for (const [key, path] of counts) {
    const page = await api(`${path}?limit=1`).catch(() => null);
    if (page) tiles.append(h("a", { class: "tile", href: `#/admin/${key}` }, h("span", { class: "big" }, String(page.total)), t(`nav.${key}`)));
  }
  const { list, off } = eventList(session);
  main.append(tiles, h("h2", {}, t("console.live_events")), list);
  return off;
}

// Agents' state as the wallboard knows it: rows from GET /agents, updated by agent.state_changed events.
export async function wallboardView(main, session) {
  const [agents, queues] = await Promise.all([listAll("/agents"), listAll("/queues")]);
  const users = new Map((await listAll("/users").catch(() => [])).map((u) => [u.id, u]));
  const members = new Map();
  await Promise.all(queues.map(async (q) => members.set(q.id, await api(`/queues/${q.id}/members`).catch(() => []))));
  const since = new Map(); // agent id -> ms when the current state began (known once an event is seen)
  const byId = new Map(agents.map((a) => [a.id, a]));

  const staffOf = (queue) => agents.filter((a) => serves(a, queue, members.get(queue.id)));
  const queueTable = h("table", { id: "wallboard-queues" });
  const agentTable = h("table", { id: "wallboard-agents" });
  const monitor = createMonitorPanel(session, () => draw());
  const draw = () => {
    const now = Date.now();
    const states = ["available", "on_call", "wrap_up", ...AUX_STATES, "offline"];
    clear(queueTable).append(
      h("caption", {}, t("wallboard.queues")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("field.name")), ...QUEUE_FIGURES.map((f) => h("th", { scope: "col" }, t(`wallboard.${f}`))),
        ...states.map((s) => h("th", { scope: "col" }, t(`state.${s}`))))),
      h("tbody", {}, ...queues.map((q) => {
        const staff = staffOf(q);
        return h("tr", { "data-queue": q.id }, h("th", { scope: "row" }, q.name), ...queueFigureCells(feed, q.id),
          ...states.map((s) => h("td", { "data-count": s }, String(staff.filter((a) => a.state === s).length))));
      })));
    clear(agentTable).append(
      h("caption", {}, t("wallboard.agents")),
      h("thead", {}, h("tr", {}, ...["extension", "name", "state", "time_in_state", "force", "monitor"].map((c) => h("th", { scope: "col" }, t(`wallboard.${c}`))))),
      h("tbody", {}, ...agents.map((a) => h("tr", { "data-agent": a.id },
        h("td", {}, a.extension), h("td", {}, users.get(a.user_id)?.full_name || a.sip_username),
        h("td", { class: `state state-${a.state}`, "data-state": a.state }, t(`state.${a.state}`)),
        h("td", {}, duration(since.has(a.id) ? now - since.get(a.id) : null)),
        h("td", {}, forceControl(a)), h("td", {}, monitor.controls(a))))));
  };
  const forceControl = (agent) => {
    const id = `force-${agent.id}`;
    const select = h("select", { id, "aria-label": t("wallboard.force_for", { agent: agent.extension }) },
      ...["available", ...AUX_STATES, "offline"].map((s) => h("option", { value: s, selected: s === agent.state }, t(`state.${s}`))));
    select.addEventListener("change", () => api(`/agents/${agent.id}/state`, { method: "POST", body: { state: select.value, reason: "supervisor" } })
      .catch((err) => alert(err.message)));
    return select;
  };
  const { list, off } = eventList(session);
  const offState = session.events.on((e) => {
    if (e.type === "agent.state_changed" && byId.has(e.agent_id)) {
      byId.get(e.agent_id).state = e.data.to;
      since.set(e.agent_id, e.ts_ms);
    } else if (!monitor.handle(e)) return;
    draw();
  });
  let campaigns = null;
  const feed = boardFeed(session, () => { draw(); campaigns?.draw(); });
  campaigns = await campaignBoard(feed);
  await feed.ready;
  const timer = setInterval(draw, 1000);
  await monitor.start();
  draw();
  main.append(queueTable, campaigns.table, agentTable, monitor.element, h("h2", {}, t("console.live_events")), list);
  return () => { off(); offState(); clearInterval(timer); feed.stop(); monitor.stop(); };
}

// The agent's own state with time in state, the softphone library status and the agent's events.
export async function desktopView(main, session) {
  const agentId = session.me.agent_id;
  if (agentId == null) {
    main.append(h("p", {}, t("desktop.no_agent")));
    return null;
  }
  let agent = await api(`/agents/${agentId}`);
  let since = Date.now();
  const stateText = h("p", { id: "agent-state", class: "state-now", "aria-live": "polite" });
  const clock = h("span", { id: "agent-time-in-state" });
  const reason = h("input", { id: "aux-reason", maxlength: 64 });
  const error = h("p", { class: "field-error", role: "alert" });
  const setState = async (state) => {
    error.textContent = "";
    try {
      agent = await api(`/agents/${agentId}/state`, { method: "POST", body: { state, reason: AUX_STATES.includes(state) ? reason.value : "" } });
      since = Date.now();
      draw();
    } catch (err) {
      error.textContent = err.message;
    }
  };
  const buttons = h("div", { class: "actions state-buttons" },
    h("button", { type: "button", id: "go-available", "aria-keyshortcuts": "Alt+A", onclick: () => setState("available") }, t("state.available")),
    ...AUX_STATES.map((s) => h("button", { type: "button", class: "secondary", "data-state": s,
      "aria-keyshortcuts": s === "break" ? "Alt+B" : undefined, onclick: () => setState(s) }, t(`state.${s}`))),
    h("button", { type: "button", class: "secondary", id: "go-offline", "aria-keyshortcuts": "Alt+O", onclick: () => setState("offline") }, t("state.offline")));
  const draw = () => {
    stateText.textContent = t("desktop.state_is", { state: t(`state.${agent.state}`) });
    stateText.dataset.state = agent.state;
    clock.textContent = duration(Date.now() - since);
  };
  const queues = await listAll("/queues").catch(() => []);
  const mine = [];
  for (const queue of queues) {
    if (serves(agent, queue, await api(`/queues/${queue.id}/members`).catch(() => []))) mine.push(queue);
  }
  const myQueues = h("ul", { id: "my-queues" }, ...mine.map((q) => h("li", {}, q.name)));
  const phone = h("p", { id: "softphone-status" }, t("desktop.loading_phone"));
  const phonePanel = h("section", { class: "panel" }, h("h2", {}, t("desktop.softphone")), phone);
  let softphone = null;
  let gone = false;
  const pop = createScreenPop();
  loadSipLibrary().then((lib) => {
    phone.textContent = lib.ok ? t("desktop.phone_ready", { version: lib.version }) : t("desktop.phone_missing");
    session.JsSIP = lib.JsSIP;
    if (!lib.ok || gone) return;
    softphone = createSoftphone(lib.JsSIP, { dial: true, events: session.events });
    phonePanel.append(softphone.element);
    softphone.start();
  });
  const { list, off } = eventList(session);
  const offState = session.events.on((e) => {
    if (e.type === "agent.state_changed" && e.agent_id === agentId) { agent = { ...agent, state: e.data.to }; since = e.ts_ms; draw(); }
  });
  const keys = (event) => {  // Alt+A available, Alt+B break (an aux state, with the reason typed), Alt+O offline
    const state = event.altKey && { a: "available", b: "break", o: "offline" }[event.key];
    if (!state) return;
    event.preventDefault();
    setState(state);
  };
  document.addEventListener("keydown", keys);
  const timer = setInterval(draw, 1000);
  draw();
  const outbound = outboundPanel(session, agentId);  // preview, lead card, script, wrap-up form
  main.append(
    phonePanel,  // first: the call in hand is what an agent looks at
    outbound.element,
    h("section", { class: "panel" }, h("h2", {}, t("desktop.my_state")), stateText, h("p", {}, t("desktop.time_in_state"), " ", clock),
      h("div", { class: "field" }, h("label", { for: "aux-reason" }, t("desktop.aux_reason")), reason), buttons, error,
      h("p", { class: "hint" }, t("desktop.shortcuts"))),
    h("section", { class: "panel" }, h("h2", {}, t("desktop.my_queues")), mine.length ? myQueues : h("p", {}, t("desktop.no_queues"))),
    h("h2", {}, t("console.live_events")), list);
  phonePanel.after(pop.element);  // the caller of the call in hand, next to it
  return () => {
    off(); offState(); clearInterval(timer); document.removeEventListener("keydown", keys); outbound.stop();
    gone = true;
    softphone?.stop();
    pop.stop();
  };
}
