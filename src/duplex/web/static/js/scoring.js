// Scoring a recorded call against a scorecard: one score (0..max, or not applicable) and a comment per
// criterion, an overall comment, POST /evaluations. The API's 422 goes next to the criterion it names
// (loc ["body", "scores", i, ...] is the i-th criterion: the form sends them in the scorecard's order).
import { api, listAll } from "./api.js";
import { h, clear } from "./dom.js";
import { t } from "./i18n.js";

let counter = 0;

function criterionControls(criterion, index) {
  const id = `crit-${++counter}`;
  const score = h("select", { id: `${id}-score`, "data-criterion": criterion.name },
    ...(criterion.auto_fail ? [] : [h("option", { value: "" }, t("scoring.not_applicable"))]),
    ...Array.from({ length: criterion.max_score + 1 }, (_, n) => h("option", { value: String(n), selected: n === criterion.max_score }, String(n))));
  const comment = h("textarea", { id: `${id}-comment`, rows: 2, maxlength: 2000 });
  const error = h("p", { class: "field-error", role: "alert", id: `${id}-error` });
  score.setAttribute("aria-describedby", `${id}-error`);
  const badge = criterion.auto_fail ? h("span", { class: "badge" }, t("scoring.auto_fail")) : null;
  const el = h("fieldset", { class: "field criterion", "data-index": index },
    h("legend", {}, criterion.name, " ", h("span", { class: "hint" }, t("scoring.weight", { weight: criterion.weight, max: criterion.max_score })), " ", badge),
    criterion.description ? h("p", { class: "hint" }, criterion.description) : null,
    h("label", { for: score.id }, t("scoring.score")), score,
    h("label", { for: comment.id }, t("scoring.comment")), comment, error);
  return { el, error, score, read: () => ({ criterion: criterion.name, score: score.value === "" ? null : Number(score.value), comment: comment.value }) };
}

export async function scoreForm(recording, session) {
  const cards = (await listAll("/scorecards", { active: "true" }).catch(() => []));
  const box = h("section", { class: "subpanel", id: "score-form", "aria-labelledby": "score-title" },
    h("h3", { id: "score-title" }, t("scoring.title", { id: recording.call_id })));
  if (!cards.length) {
    box.append(h("p", { class: "hint" }, t("scoring.no_scorecards")));
    return box;
  }
  const chooser = h("select", { id: "scorecard-choice" }, ...cards.map((c) => h("option", { value: String(c.id) }, c.name)));
  const criteriaBox = h("div", { class: "criteria" });
  const overall = h("textarea", { id: "evaluation-comment", rows: 3, maxlength: 4000 });
  const status = h("p", { role: "status", class: "form-status", id: "score-status" });
  const previous = h("div", { id: "call-evaluations" });
  let controls = [];
  const drawCriteria = () => {
    const card = cards.find((c) => String(c.id) === chooser.value);
    controls = card.criteria.map((c, i) => criterionControls(c, i));
    clear(criteriaBox).append(...controls.map((c) => c.el));
  };
  chooser.addEventListener("change", drawCriteria);
  drawCriteria();
  const showPrevious = async () => {
    const done = await api(`/evaluations?call_id=${encodeURIComponent(recording.call_id)}`).catch(() => ({ items: [] }));
    clear(previous).append(...done.items.map((e) => h("p", { "data-evaluation": e.id },
      t("scoring.previous", { score: e.score_pct.toFixed(1), when: new Date(e.created_at).toLocaleString() }),
      e.auto_failed ? ` (${t("scoring.auto_failed")})` : "")));
  };
  const form = h("form", { novalidate: true },
    h("div", { class: "field" }, h("label", { for: chooser.id }, t("scoring.scorecard")), chooser),
    criteriaBox,
    h("div", { class: "field" }, h("label", { for: overall.id }, t("scoring.overall_comment")), overall),
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("scoring.submit"))), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    status.classList.remove("error");
    for (const c of controls) { c.error.textContent = ""; c.score.removeAttribute("aria-invalid"); }
    try {
      const saved = await api("/evaluations", { method: "POST", body: {
        call_id: recording.call_id, recording_id: recording.id, scorecard_id: Number(chooser.value),
        scores: controls.map((c) => c.read()), comment: overall.value } });
      status.textContent = t("scoring.saved", { score: saved.score_pct.toFixed(1) });
      status.dataset.score = String(saved.score_pct);
      await showPrevious();
    } catch (err) {
      const unplaced = [];
      for (const entry of err.fieldErrors || []) {
        const [, field, index] = entry.loc || [];
        const c = field === "scores" && Number.isInteger(index) ? controls[index] : null;
        if (c) { c.error.textContent = entry.msg; c.score.setAttribute("aria-invalid", "true"); } else unplaced.push(entry.msg);
      }
      if (!(err.fieldErrors || []).length) unplaced.push(err.message);
      status.textContent = unplaced.join("; ");
      status.classList.toggle("error", unplaced.length > 0);
      controls.find((c) => c.error.textContent)?.score.focus();
    }
  });
  box.append(form, h("h4", {}, t("scoring.previous_title")), previous);
  await showPrevious();
  return box;
}
