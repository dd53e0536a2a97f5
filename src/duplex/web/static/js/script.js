// The call script of the agent desktop: one page at a time, its text with the lead's fields filled in by the
// server (GET /leads/{id}/card), its questions as form controls. "Next" saves the page's answers
// (POST /leads/{id}/answers): the API checks them (errors shown next to their question) and names the next page.
import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

function control(question, id, value) {
  if (question.type === "choice") {
    return h("select", { id, name: question.key, required: question.required },
      h("option", { value: "" }, t("form.choose")),
      ...question.options.map((o) => h("option", { value: o, selected: value === o }, o)));
  }
  if (question.type === "yes_no") {
    const pick = value === true ? "yes" : value === false ? "no" : "";
    return h("select", { id, name: question.key, required: question.required },
      h("option", { value: "" }, t("form.choose")),
      h("option", { value: "yes", selected: pick === "yes" }, t("common.yes")),
      h("option", { value: "no", selected: pick === "no" }, t("common.no")));
  }
  const type = question.type === "number" ? "number" : question.type === "date" ? "date" : "text";
  return h("input", { id, name: question.key, type, required: question.required, value: value ?? "",
    min: question.min ?? undefined, max: question.max ?? undefined });
}

// `getCallId()` says which call the answers belong to (null before the call is connected).
export function scriptPanel(card, getCallId) {
  const root = h("section", { id: "call-script", class: "panel", "aria-labelledby": "call-script-title" },
    h("h2", { id: "call-script-title" }, t("script.title", { name: card.script.name })));
  const pages = new Map(card.script.pages.map((p) => [p.id, p]));
  const answers = { ...(card.answers || {}) };
  const body = h("div", {});
  root.append(body);
  const show = (pageId) => {
    const page = pages.get(pageId);
    if (!page) {
      body.replaceChildren(h("p", { id: "script-done", class: "state-available" }, t("script.done")));
      return;
    }
    const errors = new Map();
    const fields = page.questions.map((q) => {
      const id = `q-${q.key}`;
      const input = control(q, id, answers[q.key]);
      const error = h("p", { class: "field-error", role: "alert", id: `${id}-error` });
      input.setAttribute("aria-describedby", `${id}-error`);
      errors.set(q.key, [input, error]);
      return h("div", { class: "field" }, h("label", { for: id }, q.label + (q.required ? " *" : "")), input, error);
    });
    const status = h("p", { class: "field-error", role: "alert" });
    const last = !page.next && !page.branches?.length;  // the card's pages carry next/branches
    const next = h("button", { type: "submit", id: "script-next" }, t(last ? "script.finish" : "script.next"));
    const form = h("form", { class: "script-page", "data-page": page.id, novalidate: true }, page.title ? h("h3", {}, page.title) : null,
      h("p", { class: "script-text" }, page.text), ...fields, h("div", { class: "actions" }, next), status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      for (const [input, error] of errors.values()) { error.textContent = ""; input.removeAttribute("aria-invalid"); }
      status.textContent = "";
      const given = {};
      for (const q of page.questions) {
        const value = form.elements[q.key].value;
        if (value !== "") given[q.key] = value;
      }
      try {
        const saved = await api(`/leads/${card.id}/answers`, { method: "POST", body: { page: page.id, answers: given, call_id: getCallId() } });
        Object.assign(answers, saved.answers);
        show(saved.next);
      } catch (err) {
        if (!(err instanceof ApiError) || !err.fieldErrors.length) { status.textContent = err.message; return; }
        for (const e of err.fieldErrors) {
          const [input, error] = errors.get(e.loc[2]) || [null, status];
          error.textContent = e.msg;
          input?.setAttribute("aria-invalid", "true");
        }
        form.querySelector("[aria-invalid='true']")?.focus();
      }
    });
    body.replaceChildren(form);
  };
  show(card.script.start);
  return root;
}
