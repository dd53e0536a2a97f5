// The wallboard's figures from GET /wallboard (computed by the server from the event record): per queue
// waiting, longest wait, service level, abandon rate and answers today; per campaign dial level, abandon
// rate over 24 h and 30 days, connects today. Refetched when events arrive (the server shares a snapshot
// for 2 s, so a refetch waits until the last one is older than that), and every 15 s for the clock.
import { api, listAll } from "./api.js";
import { h, clear } from "./dom.js";
import { t } from "./i18n.js";

const SNAPSHOT_MS = 2100; // the server's shared snapshot lives 2 s
const PERIOD_MS = 15000;

export const percent = (v) => (v === null || v === undefined ? "–" : `${(Math.round(v * 1000) / 10).toFixed(1)} %`);

export function seconds(s) {
  if (s === null || s === undefined) return "–";
  const whole = Math.max(0, Math.floor(s));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

// Follows the board; `onChange()` is called after every fetch.
export function boardFeed(session, onChange) {
  let board = null;
  let fetchedAt = 0;
  let pending = null;
  let stopped = false;
  const refresh = async () => {
    pending = null;
    try {
      board = await api("/wallboard");
      fetchedAt = Date.now();
    } catch (err) {
      board = board || { queues: [], campaigns: [], error: err.message };
    }
    if (!stopped) onChange();
  };
  const soon = () => {
    if (pending || stopped) return;
    pending = setTimeout(refresh, Math.max(300, fetchedAt + SNAPSHOT_MS - Date.now()));
  };
  const off = session.events.on(soon);
  const timer = setInterval(soon, PERIOD_MS);
  return {
    ready: refresh(),
    queue: (id) => board?.queues.find((q) => q.queue_id === id) || null,
    campaigns: () => board?.campaigns || [],
    // the longest wait goes on ticking between fetches while calls wait
    longestWait: (q) => (q && q.longest_wait_s !== null ? q.longest_wait_s + (Date.now() - fetchedAt) / 1000 : null),
    stop: () => { stopped = true; off(); clearInterval(timer); if (pending) clearTimeout(pending); },
  };
}

// The queue columns the board adds after the queue's name.
export const QUEUE_FIGURES = ["waiting", "longest_wait", "service_level_today", "abandon_rate_today", "answered_today"];

export function queueFigureCells(feed, queueId) {
  const q = feed.queue(queueId);
  const values = {
    waiting: q ? String(q.waiting) : "0",
    longest_wait: seconds(feed.longestWait(q)),
    service_level_today: percent(q?.service_level_today),
    abandon_rate_today: percent(q?.abandon_rate_today),
    answered_today: q ? String(q.answered_today) : "0",
  };
  return QUEUE_FIGURES.map((f) => h("td", { "data-figure": f, ...(f === "waiting" ? { "data-waiting": queueId } : {}) }, values[f]));
}

// The campaigns table; `draw()` redraws it from the feed.
export async function campaignBoard(feed) {
  const names = new Map((await listAll("/campaigns").catch(() => [])).map((c) => [c.id, c.name]));
  const table = h("table", { id: "wallboard-campaigns" });
  const columns = ["dial_level", "abandon_rate_24h", "abandon_rate_30d", "connects_today"];
  const draw = () => {
    const rows = feed.campaigns();
    clear(table).append(
      h("caption", {}, t("wallboard.campaigns")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("field.name")), ...columns.map((c) => h("th", { scope: "col" }, t(`wallboard.${c}`))))),
      h("tbody", {}, ...(rows.length ? rows.map((c) => h("tr", { "data-campaign": c.campaign_id },
        h("th", { scope: "row" }, names.get(c.campaign_id) ?? `#${c.campaign_id}`),
        h("td", { "data-figure": "dial_level" }, c.dial_level === null ? "–" : c.dial_level.toFixed(2)),
        h("td", { "data-figure": "abandon_rate_24h" }, percent(c.abandon_rate_24h)),
        h("td", { "data-figure": "abandon_rate_30d" }, percent(c.abandon_rate_30d)),
        h("td", { "data-figure": "connects_today" }, String(c.connects_today))))
        : [h("tr", {}, h("td", { colspan: columns.length + 1 }, t("wallboard.no_campaigns")))])));
  };
  draw();
  return { table, draw };
}
