// The lead card of the agent desktop: who the agent is calling (GET /leads/{id}/card): name, number, company,
// attempts and last outcome, the callee's time zone and local time, custom fields, and the last calls.
import { api } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

export const fetchCard = (leadId) => api(`/leads/${leadId}/card`);

// The callee's wall clock now, from their IANA zone (the browser's Intl does the zone arithmetic).
export function localTimeIn(zone, when = new Date()) {
  return new Intl.DateTimeFormat(undefined, { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit" }).format(when);
}

export function leadCard(card) {
  const name = [card.first_name, card.last_name].filter(Boolean).join(" ") || card.phone;
  const rows = [
    ["lead.phone", card.phone],
    ["lead.company", card.company || "–"],
    ["lead.email", card.email || "–"],
    ["lead.attempts", String(card.attempts)],
    ["lead.last_outcome", card.last_outcome || "–"],
    ["lead.time_zone", card.time_zone],
    ["lead.local_time", localTimeIn(card.time_zone)],
    ["lead.campaign", card.campaign ? card.campaign.name : "–"],
  ];
  const custom = Object.entries(card.custom || {}).filter(([key]) => !(key in (card.answers || {})));
  const list = h("dl", { class: "lead-fields" }, ...[...rows.map(([k, v]) => [t(k), v]), ...custom.map(([k, v]) => [k, String(v)])]
    .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  const calls = (card.calls || []).length
    ? h("ul", { class: "lead-calls" }, ...card.calls.map((c) => h("li", {}, new Date(c.started_at).toLocaleString(), " · ", c.outcome || "–")))
    : null;
  return h("div", { id: "lead-card", class: "lead-card", "data-lead": card.id },
    h("h3", {}, name), list, calls ? h("h4", {}, t("lead.last_calls")) : null, calls);
}
