// Supervisor monitoring on the wallboard: which agent is on which call (the calls answered when the page
// opened, then call.bridged / leg.ended / call.ended events), Listen / Whisper / Barge / Stop per agent on a
// call (POST, PATCH and DELETE /calls/{id}/monitor), and the supervisor's own softphone, which the server
// rings for a monitor call and which answers it by itself when this page asked for one.
import { api, listAll } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { createSoftphone, loadSipLibrary } from "./softphone.js";

const MODES = ["listen", "whisper", "barge"];
const EXPECT_MS = 30_000; // how long after a request the page answers a monitor call by itself

export function createMonitorPanel(session, redraw) {
  const calls = new Map(); // agent id -> id of the call the agent is connected on
  let current = null; // {call_id, mode, state} of this supervisor's monitor
  let expecting = 0; // until when an incoming monitor call is answered by itself
  let softphone = null;
  let gone = false;
  const status = h("p", { id: "monitor-status", "aria-live": "polite" }, t("monitor.idle"));
  const error = h("p", { class: "field-error", role: "alert" });
  const phone = h("div", { id: "monitor-phone" });
  const element = h("section", { class: "panel", id: "monitor-panel" },
    h("h2", {}, t("monitor.title")), status, error, phone);

  const say = () => {
    status.textContent = current
      ? t(`monitor.state.${current.state}`, { mode: t(`monitor.${current.mode}`) })
      : t("monitor.idle");
    status.dataset.state = current ? current.state : "idle";
    status.dataset.mode = current ? current.mode : "";
  };
  const request = async (callId, method, body) => {
    error.textContent = "";
    try {
      if (method !== "DELETE") expecting = Date.now() + EXPECT_MS;
      const answer = await api(`/calls/${callId}/monitor`, { method, body });
      // an event seen meanwhile (the phone answered, the monitor ended) is newer than the answer
      const newer = current && current.call_id === callId &&
        ((answer.state === "ringing" && current.state === "active") || (method === "DELETE" && current.state === "ended"));
      if (!newer) current = answer;
    } catch (err) {
      error.textContent = err.message;
    }
    say();
    redraw();
  };
  const choose = (callId, mode) => {
    const same = current && current.call_id === callId && current.state !== "ended";
    return request(callId, same ? "PATCH" : "POST", { mode });
  };

  // The cell of the agent grid: the modes (the current one pressed) and Stop, when the agent is on a call.
  const controls = (agent) => {
    const callId = calls.get(agent.id);
    if (!callId) return "–";
    const mine = current && current.call_id === callId && current.state !== "ended";
    return h("div", { class: "actions monitor-actions", role: "group", "aria-label": t("monitor.for", { agent: agent.extension }) },
      ...MODES.map((mode) => h("button", { type: "button", class: "secondary", "data-monitor": mode,
        "aria-pressed": String(Boolean(mine && current.mode === mode)), onclick: () => choose(callId, mode) }, t(`monitor.${mode}`))),
      mine ? h("button", { type: "button", class: "secondary", "data-monitor": "stop",
        onclick: () => request(callId, "DELETE") }, t("monitor.stop")) : "");
  };

  // Events: the agents' calls and this supervisor's monitor; true when the grid must be drawn again.
  const handle = (e) => {
    if (e.type === "call.bridged" && e.agent_id != null && e.call_id) {
      calls.set(e.agent_id, e.call_id);
    } else if ((e.type === "leg.ended" && e.agent_id != null && calls.get(e.agent_id) === e.call_id) || e.type === "call.ended") {
      for (const [agentId, callId] of calls) if (callId === e.call_id) calls.delete(agentId);
      if (current && current.call_id === e.call_id && e.type === "call.ended") current = { ...current, state: "ended" };
    } else if (e.type.startsWith("monitor.") && e.data.by_user_id === session.me.user_id) {
      // this supervisor's monitor (the event may come before the answer to the request that started it)
      if (e.type === "monitor.ended") {
        if (current && current.call_id === e.call_id) current = { ...current, state: "ended" };
      } else {
        current = { ...(current || {}), call_id: e.call_id, mode: e.data.mode, state: "active" };
      }
      say();
    } else {
      return false;
    }
    return true;
  };

  async function start() {
    const live = await listAll("/calls", { state: "answered" }).catch(() => []);
    for (const call of live) if (call.agent_id != null && !call.ended_at) calls.set(call.agent_id, call.id);
    if (session.me.agent_id == null) {
      phone.append(h("p", { id: "monitor-no-phone" }, t("monitor.no_phone")));
      return;
    }
    const lib = await loadSipLibrary();
    if (gone) return;
    if (!lib.ok) { phone.append(h("p", {}, t("desktop.phone_missing"))); return; }
    softphone = createSoftphone(lib.JsSIP, {
      autoAnswer: (req) => req.hasHeader("X-Duplex-Monitor") && Date.now() < expecting,
    });
    phone.append(softphone.element);
    softphone.start();
  }

  function stop() {
    gone = true;
    softphone?.stop();
  }
  return { element, controls, handle, start, stop };
}
