// The recordings page: search the recordings by their calls (date range, agent, queue, campaign, number,
// disposition, minimum duration) page by page, play one, and score its call against a scorecard (staff).
// Playback fetches the audio with the bearer token (an <audio src> cannot send it) and plays it from a blob:
// one fetch, so one audit row and one recording.accessed event per playback.
import { api, listAll } from "./api.js";
import { h, clear } from "./dom.js";
import { t } from "./i18n.js";
import { scoreForm } from "./scoring.js";

const PAGE = 20;

const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" }) : "");
const length = (ms) => `${Math.floor(ms / 60000)}:${String(Math.floor((ms % 60000) / 1000)).padStart(2, "0")}`;

function select(id, rows, label) {
  return h("select", { id, name: id }, h("option", { value: "" }, t("recordings.any")),
    ...rows.map((r) => h("option", { value: String(r.id) }, label(r))));
}

function field(id, labelKey, control) {
  return h("div", { class: "field" }, h("label", { for: id }, t(labelKey)), control);
}

export async function recordingsView(main, session) {
  const staff = session.me.role !== "agent";
  const [agents, queues, campaigns, dispositions] = await Promise.all(
    ["/agents", "/queues", "/campaigns", "/dispositions"].map((p) => listAll(p).catch(() => [])));
  const names = {
    agent: new Map(agents.map((a) => [a.id, a.extension])),
    queue: new Map(queues.map((q) => [q.id, q.name])),
    campaign: new Map(campaigns.map((c) => [c.id, c.name])),
    disposition: new Map(dispositions.map((d) => [d.id, d.label || d.code])),
  };
  const controls = {
    since: h("input", { id: "rec-since", type: "datetime-local" }),
    until: h("input", { id: "rec-until", type: "datetime-local" }),
    agent_id: select("rec-agent", agents, (a) => `${a.extension} ${a.sip_username}`),
    queue_id: select("rec-queue", queues, (q) => q.name),
    campaign_id: select("rec-campaign", campaigns, (c) => c.name),
    disposition_id: select("rec-disposition", dispositions, (d) => d.label || d.code),
    number: h("input", { id: "rec-number", maxlength: 64, inputmode: "tel" }),
    min_duration_s: h("input", { id: "rec-min-duration", type: "number", min: 0, step: 1 }),
  };
  const labels = { since: "recordings.since", until: "recordings.until", agent_id: "field.agent_id", queue_id: "field.queue_id",
    campaign_id: "field.campaign_id", disposition_id: "recordings.disposition", number: "recordings.number",
    min_duration_s: "recordings.min_duration" };
  const error = h("p", { class: "field-error", role: "alert", id: "rec-error" });
  const form = h("form", { id: "recordings-search", class: "search-form" },
    ...Object.entries(controls).map(([key, c]) => field(c.id, labels[key], c)),
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("recordings.search"))), error);
  const results = h("div", { class: "table-box", id: "recordings-results" });
  const player = h("audio", { id: "recording-player", controls: true, preload: "auto" });
  const nowPlaying = h("p", { id: "now-playing", class: "hint" }, t("recordings.pick"));
  const scoring = h("div", { id: "scoring" });
  const side = h("section", { class: "panel player-panel", "aria-labelledby": "player-title" },
    h("div", {}, h("h2", { id: "player-title" }, t("recordings.player")), nowPlaying, player), scoring);
  main.append(form, results, side);

  let offset = 0;
  let objectUrl = null;
  const query = () => {
    const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    for (const [key, c] of Object.entries(controls)) {
      if (c.value === "") continue;
      params.set(key, key === "since" || key === "until" ? new Date(c.value).toISOString() : c.value.trim());
    }
    return params;
  };

  const play = async (rec) => {
    nowPlaying.textContent = t("recordings.loading", { id: rec.id });
    try {
      const response = await api(`/recordings/${rec.id}/audio`, { raw: true });
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = URL.createObjectURL(await response.blob());
      player.src = objectUrl;
      player.dataset.recording = rec.id;
      nowPlaying.textContent = t("recordings.playing", { id: rec.id, from: rec.call.from_number, to: rec.call.to_number });
      await player.play().catch(() => null); // autoplay may be refused; the controls are there
    } catch (err) {
      nowPlaying.textContent = err.message;
    }
  };

  const score = async (rec) => {
    if (player.dataset.recording !== String(rec.id)) await play(rec); // each playback is audited: not twice
    clear(scoring).append(await scoreForm(rec, session));
  };

  const search = async () => {
    error.textContent = "";
    let page;
    try {
      page = await api(`/recordings?${query()}`);
    } catch (err) {
      for (const entry of err.fieldErrors || []) {
        const key = entry.loc?.[1];
        controls[key]?.setAttribute("aria-invalid", "true");
      }
      error.textContent = err.message;
      return;
    }
    for (const c of Object.values(controls)) c.removeAttribute("aria-invalid");
    const cols = ["started", "from", "to", "agent", "queue", "campaign", "duration", "disposition"];
    const first = page.total ? page.offset + 1 : 0;
    const last = page.offset + page.items.length;
    const prev = h("button", { type: "button", class: "secondary", disabled: page.offset === 0 }, t("recordings.previous"));
    const next = h("button", { type: "button", class: "secondary", disabled: last >= page.total }, t("recordings.next"));
    prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); search(); });
    next.addEventListener("click", () => { offset += PAGE; search(); });
    clear(results).append(
      h("div", { class: "toolbar" }, h("span", { role: "status", id: "recordings-count" }, t("recordings.count", { first, last, total: page.total })),
        h("span", { class: "actions" }, prev, next)),
      h("table", { id: "recordings-table" },
        h("caption", { class: "sr-only" }, t("nav.recordings")),
        h("thead", {}, h("tr", {}, ...cols.map((c) => h("th", { scope: "col" }, t(`recordings.col.${c}`))),
          h("th", { scope: "col" }, h("span", { class: "sr-only" }, t("admin.actions"))))),
        h("tbody", {}, ...page.items.map((rec) => h("tr", { "data-recording": rec.id },
          h("td", {}, when(rec.call.started_at)), h("td", {}, rec.call.from_number),
          h("td", {}, rec.call.to_number), h("td", {}, names.agent.get(rec.call.agent_id) ?? ""),
          h("td", {}, names.queue.get(rec.call.queue_id) ?? ""), h("td", {}, names.campaign.get(rec.call.campaign_id) ?? ""),
          h("td", {}, length(rec.duration_ms)), h("td", {}, names.disposition.get(rec.call.disposition_id) ?? ""),
          h("td", { class: "row-actions" },
            h("button", { type: "button", class: "link", "data-action": "play", onclick: () => play(rec) }, t("recordings.play")),
            staff ? h("button", { type: "button", class: "link", "data-action": "score", onclick: () => score(rec) }, t("recordings.score")) : null)))),
      ));
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); offset = 0; search(); });
  await search();
  return () => { player.pause(); if (objectUrl) URL.revokeObjectURL(objectUrl); };
}
