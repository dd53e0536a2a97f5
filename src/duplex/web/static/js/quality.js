// The quality page: the average quality per agent over a range (GET /reports/quality) and the evaluations
// behind it, each with its scores and comments per criterion. An agent sees their own row and evaluations.
import { api, listAll } from "./api.js";
import { h, clear } from "./dom.js";
import { t } from "./i18n.js";

const DAY_MS = 86400000;
const LATEST = 100;
const dateInput = (id, ms) => h("input", { id, type: "date", value: new Date(ms).toISOString().slice(0, 10) });

export async function qualityView(main) {
  const agents = new Map((await listAll("/agents").catch(() => [])).map((a) => [a.id, `${a.extension} ${a.sip_username}`]));
  const now = Date.now();
  const from = dateInput("quality-from", now - 29 * DAY_MS);
  const to = dateInput("quality-to", now);
  const error = h("p", { class: "field-error", role: "alert" });
  const form = h("form", { id: "quality-range", class: "search-form" },
    h("div", { class: "field" }, h("label", { for: from.id }, t("quality.from")), from),
    h("div", { class: "field" }, h("label", { for: to.id }, t("quality.to")), to),
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("quality.show"))), error);
  const report = h("div", { class: "table-box" });
  const list = h("div", { id: "quality-evaluations" });
  main.append(form, report, h("h2", {}, t("quality.evaluations")), list);

  const show = async () => {
    error.textContent = "";
    // `to` is the whole of its day: the range ends at the next midnight (UTC), or now if that is sooner
    const start = new Date(`${from.value}T00:00:00Z`);
    const end = new Date(Math.min(Date.parse(`${to.value}T00:00:00Z`) + DAY_MS, Date.now()));
    let rows;
    let evaluations;
    try {
      const params = new URLSearchParams({ from: start.toISOString(), to: end.toISOString() });
      rows = (await api(`/reports/quality?${params}`)).rows;
      // the newest 100 (the list is in id order): read the total, then the last page
      const range = { since: start.toISOString(), until: end.toISOString(), limit: String(LATEST) };
      let page = await api(`/evaluations?${new URLSearchParams(range)}`);
      if (page.total > LATEST) page = await api(`/evaluations?${new URLSearchParams({ ...range, offset: String(page.total - LATEST) })}`);
      evaluations = page.items.reverse();
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    const cols = ["agent", "evaluations", "avg_score_pct", "min_score_pct", "max_score_pct", "auto_fails"];
    clear(report).append(h("table", { id: "quality-report" },
      h("caption", {}, t("quality.report")),
      h("thead", {}, h("tr", {}, ...cols.map((c) => h("th", { scope: "col" }, t(`quality.col.${c}`))))),
      h("tbody", {}, ...(rows.length ? rows.map((r) => h("tr", { "data-agent": r.agent_id },
        h("th", { scope: "row" }, agents.get(r.agent_id) ?? `#${r.agent_id}`),
        ...cols.slice(1).map((c) => h("td", { "data-figure": c }, typeof r[c] === "number" && c.endsWith("_pct") ? r[c].toFixed(1) : String(r[c])))))
        : [h("tr", {}, h("td", { colspan: cols.length }, t("quality.none")))]))));
    clear(list).append(...evaluations.map((e) => h("details", { class: "evaluation", "data-evaluation": e.id },
      h("summary", {}, t("quality.summary", { score: e.score_pct.toFixed(1), agent: agents.get(e.agent_id) ?? `#${e.agent_id}`,
        call: e.call_id, when: new Date(e.created_at).toLocaleString() }), e.auto_failed ? ` (${t("scoring.auto_failed")})` : ""),
      h("table", {}, h("tbody", {}, ...e.scores.map((s) => h("tr", {},
        h("th", { scope: "row" }, s.criterion),
        h("td", {}, s.score === null ? t("scoring.not_applicable") : `${s.score} / ${s.max_score}`),
        h("td", {}, s.comment))))),
      e.comment ? h("p", {}, e.comment) : null)));
    if (!evaluations.length) list.append(h("p", { class: "hint" }, t("quality.no_evaluations")));
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); show(); });
  await show();
}
