// The wrap-up form of the agent desktop: after a call the agent is in wrap-up, and the API refuses
// "available" until the call has a disposition (409). The form lists the call's dispositions
// (GET /desktop/wrap-up); one that schedules a callback opens the scheduler: a date and time on the callee's
// clock, shown on the agent's clock too, for this agent only or for any agent.
import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

// The UTC instant of a wall-clock time ("2026-12-08T10:30") in an IANA zone: the zone's offset at a first
// guess, then again at the corrected instant (a DST change in between).
export function zonedToDate(local, zone) {
  const [date, time] = local.split("T");
  const [y, mo, d] = date.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, d, hh, mm);
  const offset = (at) => {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" })
      .formatToParts(new Date(at)).map((p) => [p.type, p.value]));
    return Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute) - at;
  };
  const first = wall - offset(wall);
  return new Date(wall - offset(first));
}

const clock = (when, zone) => new Intl.DateTimeFormat(undefined, { timeZone: zone, dateStyle: "medium", timeStyle: "short" }).format(when);

export function wrapupPanel(pending, { onDone }) {
  const { call, lead, dispositions } = pending;
  const zone = lead?.time_zone || "UTC";
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const error = h("p", { class: "field-error", role: "alert", id: "wrapup-error" });
  const choice = h("select", { id: "wrapup-disposition", required: true },
    h("option", { value: "" }, t("form.choose")),
    ...dispositions.map((d) => h("option", { value: d.id, "data-callback": d.schedules_callback ? "1" : "" }, d.label)));
  const notes = h("textarea", { id: "wrapup-notes", rows: 3, maxlength: 4000 });
  const when = h("input", { id: "callback-at", type: "datetime-local" });
  const personal = h("input", { id: "callback-personal", type: "checkbox", checked: true });
  const both = h("p", { id: "callback-clocks", class: "hint", "aria-live": "polite" });
  const callbackError = h("p", { class: "field-error", role: "alert", id: "callback-error" });
  const scheduler = h("fieldset", { id: "callback-scheduler", class: "field", hidden: true },
    h("legend", {}, t("callback.title")),
    h("div", { class: "field" }, h("label", { for: "callback-at" }, t("callback.callee_time", { zone })), when),
    both, callbackError,
    h("div", { class: "field" }, h("label", { for: "callback-personal" }, t("callback.personal")), personal));
  const describe = () => {
    if (!when.value) { both.textContent = ""; return; }
    const at = zonedToDate(when.value, zone);
    both.textContent = t("callback.both_clocks", { callee: clock(at, zone), zone, agent: clock(at, here), here });
  };
  when.addEventListener("input", describe);
  const wantsCallback = () => choice.selectedOptions[0]?.dataset.callback === "1";
  choice.addEventListener("change", () => { scheduler.hidden = !wantsCallback(); });
  const save = h("button", { type: "submit", id: "wrapup-save", "aria-keyshortcuts": "Alt+D" }, t("wrapup.save"));
  const who = lead ? [lead.first_name, lead.last_name].filter(Boolean).join(" ") || lead.phone : call.to_number || call.from_number;
  const form = h("form", { id: "wrapup", class: "panel", "aria-labelledby": "wrapup-title", novalidate: true },
    h("h2", { id: "wrapup-title" }, t("wrapup.title")),
    h("p", {}, t("wrapup.needed", { who })),
    h("div", { class: "field" }, h("label", { for: "wrapup-disposition" }, t("wrapup.disposition")), choice),
    h("div", { class: "field" }, h("label", { for: "wrapup-notes" }, t("wrapup.notes")), notes),
    scheduler, h("div", { class: "actions" }, save), error, h("p", { class: "hint" }, t("wrapup.shortcuts")));
  form.addEventListener("keydown", (event) => {  // Ctrl+Enter saves from any field (Alt+D: outbound.js)
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = callbackError.textContent = "";
    if (!choice.value) { error.textContent = t("wrapup.choose"); choice.focus(); return; }
    const body = { disposition_id: Number(choice.value), notes: notes.value };
    if (wantsCallback()) {
      if (!when.value) { callbackError.textContent = t("callback.when"); when.focus(); return; }
      body.callback = { local: when.value, personal: personal.checked };
    }
    try {
      await api(`/calls/${call.id}/disposition`, { method: "POST", body });
      form.replaceChildren(h("h2", { id: "wrapup-title" }, t("wrapup.title")), h("p", { id: "wrapup-done", class: "state-available" }, t("wrapup.done")));
      onDone?.();
    } catch (err) {
      const onCallback = err instanceof ApiError && err.fieldErrors.some((e) => e.loc.includes("callback"));
      (onCallback ? callbackError : error).textContent = err.message;
    }
  });
  return form;
}
