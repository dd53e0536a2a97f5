// The screen pop of the agent desktop: when a call rings or is answered on the softphone (its INVITE carries
// X-Duplex-Call-Id; for a call the agent places, Duplex's 18x and 200 do; the softphone tells the page with a
// "duplex:call" event), GET /calls/{id}/screen-pop and show the caller's (or the callee's) contacts and leads,
// their previous calls, this call's IVR path and inputs, the time it waited and where the number was
// advertised. The agent saves the caller as a contact, creates a lead from them, and writes notes on the call
// (Alt+W). The pop stays after the call ends, for notes during wrap-up, until the next call.
import { ApiError, api } from "./api.js";
import { clear, h } from "./dom.js";
import { showErrors } from "./forms.js";
import { t } from "./i18n.js";

const RETRIES = 12; // the call's events reach the database a moment after the phone rings
const RETRY_MS = 500;

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "");

export function seconds(ms) {
  if (ms === null || ms === undefined) return "–";
  const s = Math.round(ms / 1000);
  return s < 60 ? t("pop.seconds", { s }) : t("pop.minutes", { m: Math.floor(s / 60), s: s % 60 });
}

function definitions(rows) {
  return h("dl", { class: "pop-facts" }, ...rows.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .flatMap(([k, v, attrs]) => [h("dt", {}, k), h("dd", attrs || {}, v)]));
}

function contactCard(contact) {
  const custom = Object.entries(contact.custom || {}).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
  return h("li", { class: "pop-contact", "data-contact-id": contact.id },
    h("strong", {}, contact.name), contact.company ? ` · ${contact.company}` : "",
    h("div", { class: "hint" }, [...contact.phones, contact.email].filter(Boolean).join(" · ")),
    contact.notes ? h("p", {}, contact.notes) : null,
    custom.length ? h("p", { class: "hint" }, custom.join("; ")) : null);
}

function leadCard(lead) {
  const name = [lead.first_name, lead.last_name].filter(Boolean).join(" ") || lead.phone;
  return h("li", { class: "pop-lead", "data-lead-id": lead.id },
    h("strong", {}, name), lead.company ? ` · ${lead.company}` : "",
    h("div", { class: "hint" }, t("pop.lead_in", { list: lead.list_name, status: lead.status, attempts: lead.attempts })));
}

function ivrSection(ivr) {
  if (!ivr.path.length) return h("p", { class: "hint", id: "pop-ivr" }, t("pop.no_ivr"));
  const keysAt = new Map();
  for (const k of ivr.key_presses) keysAt.set(k.node, [...(keysAt.get(k.node) || []), k.digit]);
  const steps = h("ol", { id: "pop-ivr-path", class: "pop-path" }, ...ivr.path.map((s) => h("li", { "data-node": s.node },
    h("span", {}, s.node), " ", h("span", { class: "hint" }, `(${s.node_type})`),
    keysAt.has(s.node) ? h("span", { class: "pop-keys" }, " ", t("pop.pressed", { keys: keysAt.get(s.node).join(" ") })) : null)));
  const inputs = ivr.inputs.length
    ? h("table", { id: "pop-ivr-inputs" }, h("caption", { class: "sr-only" }, t("pop.ivr_inputs")),
      h("thead", {}, h("tr", {}, ...["variable", "value", "node"].map((c) => h("th", { scope: "col" }, t(`pop.col.${c}`))))),
      h("tbody", {}, ...ivr.inputs.map((i) => h("tr", { "data-variable": i.variable, "data-sensitive": i.sensitive ? "true" : null },
        h("td", {}, i.variable), h("td", {}, String(i.value ?? "")), h("td", {}, `${i.node}${i.node_type ? ` (${i.node_type})` : ""}`)))))
    : h("p", { class: "hint" }, t("pop.no_inputs"));
  return h("div", { id: "pop-ivr" }, steps, h("h4", {}, t("pop.ivr_inputs")), inputs,
    ivr.exit ? h("p", { class: "hint" }, t("pop.ivr_exit", { to: ivr.exit })) : null);
}

function historyTable(history) {
  if (!history.length) return h("p", { class: "hint", id: "pop-history" }, t("pop.no_history"));
  const cols = ["date", "via", "agent", "disposition", "notes"];
  return h("table", { id: "pop-history" }, h("caption", { class: "sr-only" }, t("pop.history")),
    h("thead", {}, h("tr", {}, ...cols.map((c) => h("th", { scope: "col" }, t(`pop.col.${c}`))))),
    h("tbody", {}, ...history.map((c) => h("tr", { "data-call-id": c.id },
      h("td", {}, when(c.started_at)),
      h("td", {}, c.campaign_name || c.queue_name || c.to_number, c.tracking_source ? h("div", { class: "hint" }, c.tracking_source) : null),
      h("td", {}, c.agent_name || ""),
      h("td", {}, c.disposition_label || c.end_reason || "", c.disposition_notes ? h("div", { class: "hint" }, c.disposition_notes) : null),
      h("td", { class: "pop-notes" }, ...c.notes.map((n) => h("div", {}, n.text)))))));
}

// A small form whose 422 errors land next to their fields (forms.js's showErrors).
function smallForm(id, fields, submitLabel, onSubmit) {
  const controls = fields.map(([name, label, value, kind]) => {
    const inputId = `${id}-${name}`;
    const input = kind === "textarea"
      ? h("textarea", { id: inputId, name, rows: 3 }, value ?? "")
      : kind === "select"
        ? h("select", { id: inputId, name }, ...value.map(([v, text]) => h("option", { value: String(v) }, text)))
        : h("input", { id: inputId, name, value: value ?? "" });
    const error = h("p", { class: "field-error", id: `${inputId}-error`, role: "alert" });
    input.setAttribute("aria-describedby", `${inputId}-error`);
    return { name, input, error, wrapper: h("div", { class: "field", "data-field": name }, h("label", { for: inputId }, label), input, error) };
  });
  const status = h("p", { class: "form-status", role: "status" });
  const form = h("form", { id, class: "pop-form", novalidate: true }, ...controls.map((c) => c.wrapper),
    h("div", { class: "actions" }, h("button", { type: "submit" }, submitLabel)), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const c of controls) { c.error.textContent = ""; c.input.removeAttribute("aria-invalid"); }
    status.textContent = "";
    const values = Object.fromEntries(controls.map((c) => [c.name, c.input.value]));
    try {
      status.textContent = await onSubmit(values);
    } catch (err) {
      if (err instanceof ApiError) showErrors(err, controls, status); else status.textContent = String(err);
    }
  });
  return form;
}

// What the IVR collected, as a contact's first values: a variable called name/company/email fills that
// field; every input but the sensitive ones (only their mask is known) goes into the contact's custom fields.
function contactDraft(pop) {
  const inputs = Object.fromEntries(pop.ivr.inputs.filter((i) => !i.sensitive).map((i) => [i.variable, i.value]));
  const lead = pop.leads[0];
  const leadName = lead ? [lead.first_name, lead.last_name].filter(Boolean).join(" ") : "";
  return {
    name: inputs.name ?? leadName ?? "",
    company: inputs.company ?? lead?.company ?? "",
    email: inputs.email ?? lead?.email ?? "",
    phones: pop.caller.e164 || pop.caller.number,
    custom: Object.keys(inputs).length ? JSON.stringify(inputs) : "",
  };
}

export function createScreenPop() {
  const body = h("div", { id: "screen-pop-body" });
  const flash = h("p", { id: "pop-status", role: "status" }); // outlives the re-render after a save
  const element = h("section", { class: "panel", id: "screen-pop", "aria-labelledby": "screen-pop-title", hidden: true },
    h("h2", { id: "screen-pop-title" }, t("pop.title")), flash, body);
  let callId = "";
  let lastState = "";
  let pop = null;
  let generation = 0;
  let noteBox = null;
  let ticker = null; // counts the wait up while the call is still in a queue (ringing the agent)

  // `keep`: a refresh of the same call keeps what the agent is typing (the note, an open form) and the focus.
  async function load(id, { keep = false } = {}) {
    const mine = ++generation;
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      try {
        const answer = await api(`/calls/${encodeURIComponent(id)}/screen-pop`);
        if (mine === generation) {
          const kept = keep ? typedState() : null;
          pop = answer;
          render();
          if (kept) restore(kept);
        }
        return;
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 404 || attempt === RETRIES - 1) {
          if (mine === generation) clear(body).append(h("p", { class: "error", role: "alert" }, err.message));
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        if (mine !== generation) return;
      }
    }
  }

  function typedState() {
    const fields = [...body.querySelectorAll("input[id], textarea[id], select[id]")].map((el) => [el.id, el.value]);
    const open = [...body.querySelectorAll("details[open]")].map((el) => el.id);
    return { fields, open, focused: body.contains(document.activeElement) ? document.activeElement.id : null };
  }

  function restore({ fields, open, focused }) {
    for (const [id, value] of fields) { const el = document.getElementById(id); if (el) el.value = value; }
    for (const id of open) document.getElementById(id)?.setAttribute("open", "");
    if (focused) document.getElementById(focused)?.focus();
  }

  function tickWait() {
    clearInterval(ticker);
    ticker = null;
    if (!pop.queue_waits.some((w) => w.outcome === null)) return;
    const fetched = Date.now();
    const base = pop.waited_ms;
    ticker = setInterval(() => {
      const el = document.getElementById("pop-waited");
      if (el) el.textContent = seconds(base + Date.now() - fetched);
    }, 1000);
  }

  function render() {
    tickWait();
    const draft = contactDraft(pop);
    const call = pop.call;
    const facts = definitions([
      [t(pop.caller.callee ? "pop.callee" : "pop.caller"), pop.caller.e164 || pop.caller.number, { id: "pop-caller" }],
      [t("pop.called"), `${call.to_number}${call.number_description ? ` · ${call.number_description}` : ""}`, { id: "pop-called" }],
      [t("pop.source"), call.tracking_source || t("pop.no_source"), { id: "pop-source" }],
      [t("pop.queue"), call.queue_name],
      [t("pop.waited"), seconds(pop.waited_ms), { id: "pop-waited", "data-ms": pop.waited_ms }],
    ]);
    const crm = pop.contacts.length || pop.leads.length
      ? h("ul", { id: "pop-crm", class: "pop-list" }, ...pop.contacts.map(contactCard), ...pop.leads.map(leadCard))
      : h("p", { id: "pop-crm", class: "hint" }, t("pop.unknown_caller"));
    noteBox = h("textarea", { id: "pop-note", rows: 3, maxlength: 4000, "aria-keyshortcuts": "Alt+W", "aria-describedby": "pop-note-error" });
    const noteStatus = h("p", { role: "alert", class: "field-error", id: "pop-note-error" });
    const saveNote = async () => {
      const text = noteBox.value.trim();
      if (!text) return;
      try {
        await api(`/calls/${encodeURIComponent(call.id)}/notes`, { method: "POST", body: { text } });
        noteBox.value = "";
        await load(call.id);
        flash.textContent = t("pop.note_saved");
      } catch (err) {
        noteStatus.textContent = err.message;
      }
    };
    noteBox.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); saveNote(); } });
    const contactForm = smallForm("pop-contact-form", [
      ["name", t("field.name"), draft.name], ["company", t("field.company"), draft.company],
      ["email", t("field.email"), draft.email], ["phones", t("field.phones"), draft.phones],
      ["custom", t("pop.custom"), draft.custom, "textarea"],
    ], t("pop.save_contact"), async (values) => {
      let custom = {};
      try { custom = values.custom.trim() ? JSON.parse(values.custom) : {}; } catch { throw new Error(t("form.bad_json")); }
      const saved = await api("/contacts", { method: "POST", body: {
        name: values.name, company: values.company || null, email: values.email || null,
        phones: values.phones.split(",").map((p) => p.trim()).filter(Boolean), custom,
      } });
      await load(call.id);
      flash.textContent = t("pop.contact_saved", { name: saved.name });
      return flash.textContent;
    });
    const leadForm = pop.lead_lists.length ? smallForm("pop-lead-form", [
      ["list_id", t("pop.lead_list"), pop.lead_lists.map((l) => [l.id, l.name]), "select"],
      ["first_name", t("field.first_name"), ""], ["last_name", t("field.last_name"), ""],
    ], t("pop.create_lead"), async (values) => {
      const lead = await api(`/calls/${encodeURIComponent(call.id)}/lead`, { method: "POST", body: {
        list_id: Number(values.list_id), first_name: values.first_name, last_name: values.last_name,
      } });
      await load(call.id);
      flash.textContent = t("pop.lead_created", { list: lead.list_name });
      return flash.textContent;
    }) : h("p", { class: "hint" }, t("pop.no_lead_lists"));
    clear(body).append(
      facts,
      h("h3", {}, t("pop.crm")), crm,
      h("details", { id: "pop-save-contact" }, h("summary", {}, t("pop.save_contact")), contactForm),
      h("details", { id: "pop-create-lead" }, h("summary", {}, t("pop.create_lead")), leadForm),
      h("h3", {}, t("pop.ivr")), ivrSection(pop.ivr),
      h("h3", {}, t("pop.history")), historyTable(pop.history),
      h("h3", {}, t("pop.notes")),
      h("ul", { id: "pop-call-notes", class: "pop-list" }, ...pop.notes.map((n) => h("li", {}, h("time", {}, time(n.at)), " ", n.by_name || "", ": ", n.text))),
      h("div", { class: "field" }, h("label", { for: "pop-note" }, t("pop.note_label")), noteBox),
      h("div", { class: "actions" }, h("button", { type: "button", id: "pop-note-save", onclick: saveNote }, t("pop.save_note"))),
      noteStatus, h("p", { class: "hint" }, t("pop.shortcuts")));
    element.dataset.callId = call.id;
  }

  // The softphone's call states: ringing (a call to the agent), calling (one the agent placed, once Duplex told
  // its id) and talking show (then refresh) the pop of the call.
  function onCall(state, id) {
    const changed = state !== lastState;
    lastState = state;
    if (!id || !["ringing", "calling", "talking"].includes(state)) return;
    if (id !== callId || changed) {
      if (id !== callId) { pop = null; flash.textContent = ""; clear(body).append(h("p", { class: "hint" }, t("pop.loading"))); }
      const same = id === callId;
      callId = id;
      element.hidden = false;
      load(id, { keep: same });
    }
  }

  const keys = (event) => {
    if (event.altKey && event.key === "w" && noteBox && !element.hidden) { event.preventDefault(); noteBox.focus(); }
  };
  document.addEventListener("keydown", keys);
  const heard = (event) => onCall(event.detail.state, event.detail.callId);
  document.addEventListener("duplex:call", heard);
  const stop = () => {
    generation++;
    clearInterval(ticker);
    document.removeEventListener("keydown", keys);
    document.removeEventListener("duplex:call", heard);
  };
  return { element, onCall, stop };
}
