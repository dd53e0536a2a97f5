// The outbound part of the agent desktop: preview a campaign's next lead (card, countdown, Accept/Skip), dial a
// number by hand for a campaign that allows it (manualdial.js), the lead card and call script while the call is on, and the wrap-up form whenever the agent is in wrap-up
// with a call to disposition. desktopView hooks it in with `outboundPanel(session, agentId)`.
import { api, listAll } from "./api.js";
import { clear, h } from "./dom.js";
import { t } from "./i18n.js";
import { fetchCard, leadCard } from "./leadcard.js";
import { manualDialPanel } from "./manualdial.js";
import { scriptPanel } from "./script.js";
import { wrapupPanel } from "./wrapup.js";

export function outboundPanel(session, agentId) {
  let timer = null;
  let callId = null;
  let dialed = null;  // the phone number of the accepted lead, while its call is on
  const campaign = h("select", { id: "preview-campaign" });
  const status = h("p", { id: "preview-status", "aria-live": "polite" });
  const offer = h("div", { id: "preview-offer" });
  const work = h("div", { id: "outbound-work" });
  const wrap = h("div", { id: "outbound-wrapup" });
  const manual = h("div", { id: "outbound-manual" });
  const stopCountdown = () => { if (timer) clearInterval(timer); timer = null; };

  const showWork = async (leadId) => {
    const card = await fetchCard(leadId);
    clear(work).append(h("section", { class: "panel" }, h("h2", {}, t("lead.title")), leadCard(card)));
    if (card.script) work.append(scriptPanel(card, () => callId));
  };

  const next = async () => {
    stopCountdown();
    clear(offer);
    status.textContent = "";
    if (!campaign.value) return;
    let lead;
    try {
      lead = await api(`/campaigns/${campaign.value}/preview/next`, { method: "POST" });
    } catch (err) {
      status.textContent = err.status === 404 ? t("preview.none") : err.message;
      return;
    }
    const card = await fetchCard(lead.lead_id);
    let left = Math.round(lead.expires_in);
    const countdown = h("p", { id: "preview-countdown", "aria-live": "off" });
    const tick = () => {
      countdown.textContent = t("preview.expires_in", { seconds: left });
      if (left-- <= 0) { stopCountdown(); clear(offer); status.textContent = t("preview.expired"); }
    };
    const choose = async (choice) => {
      stopCountdown();
      try {
        const done = await api(`/campaigns/${campaign.value}/preview/${lead.lead_id}/${choice}`, { method: "POST" });
        clear(offer);
        if (choice === "skip") { status.textContent = t("preview.skipped"); return; }
        callId = done.call_id;
        dialed = lead.phone;
        status.textContent = done.dialed ? t("preview.dialing", { phone: lead.phone }) : t("preview.not_dialed");
        if (done.dialed) await showWork(lead.lead_id);
      } catch (err) {
        status.textContent = err.message;
      }
    };
    clear(offer).append(h("section", { class: "panel" }, h("h2", {}, t(card.status === "callback" ? "preview.callback_offer" : "preview.offer")),
      leadCard(card), countdown,
      h("div", { class: "actions" },
        h("button", { type: "button", id: "preview-accept", "aria-keyshortcuts": "Alt+Y", onclick: () => choose("accept") }, t("preview.accept")),
        h("button", { type: "button", id: "preview-skip", class: "secondary", "aria-keyshortcuts": "Alt+S", onclick: () => choose("skip") }, t("preview.skip")))));
    tick();
    timer = setInterval(tick, 1000);
  };

  const checkWrapUp = async () => {
    const pending = await api("/desktop/wrap-up").catch(() => null);
    clear(wrap);
    if (pending?.call) {
      wrap.append(wrapupPanel(pending, { onDone: () => { callId = null; clear(work); } }));
    }
  };

  listAll("/campaigns").then((rows) => {
    const preview = rows.filter((c) => c.dial_mode === "preview" && c.status === "running");
    campaign.append(...preview.map((c) => h("option", { value: c.id }, c.name)));
    if (!preview.length) status.textContent = t("preview.no_campaign");
    const byHand = rows.filter((c) => c.manual_dial && c.status === "running");
    if (byHand.length) {
      manual.append(manualDialPanel(byHand, async (done) => {
        callId = done.call_id;
        dialed = done.phone;
        clear(work);
        if (done.lead_id) await showWork(done.lead_id);
      }));
    }
  }).catch(() => null);
  api(`/agents/${agentId}/state`).then((s) => { if (s.state === "wrap_up") checkWrapUp(); }).catch(() => null);
  // Alt+N next lead, Alt+Y accept, Alt+S skip, Alt+D save the disposition, Alt+G manual dial (the softphone and the state buttons
  // keep their own keys)
  const keys = (event) => {
    if (!event.altKey) return;
    const id = { n: "preview-next", y: "preview-accept", s: "preview-skip", d: "wrapup-save", g: "manual-dial" }[event.key];
    const button = id && document.getElementById(id);
    if (button && !button.disabled) { event.preventDefault(); button.click(); }
  };
  document.addEventListener("keydown", keys);
  const off = session.events.on((e) => {
    if (e.type !== "agent.state_changed" || e.agent_id !== agentId) return;
    if (e.data.to === "on_call" && dialed) status.textContent = t("preview.connected", { phone: dialed });
    if (e.data.to === "wrap_up") { dialed = null; checkWrapUp(); }
  });
  const element = h("div", { id: "outbound" }, wrap,
    h("section", { class: "panel" }, h("h2", {}, t("preview.title")),
      h("div", { class: "field inline" }, h("label", { for: "preview-campaign" }, t("preview.campaign")), campaign,
        h("button", { type: "button", id: "preview-next", "aria-keyshortcuts": "Alt+N", onclick: next }, t("preview.next"))),
      status, offer, h("p", { class: "hint" }, t("preview.shortcuts"))),
    manual, work);
  return { element, stop: () => { stopCountdown(); off(); document.removeEventListener("keydown", keys); } };
}
