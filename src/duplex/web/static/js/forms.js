// Forms generated from the API's own OpenAPI schemas: one labelled control per field of a create/update
// schema, references (team_id, skill_id, ...) as selects of the referenced rows, lists of objects as
// repeatable rows, and the API's 422 messages shown next to the field they name.
import { api, listAll } from "./api.js";
import { fieldLabel, t } from "./i18n.js";
import { h } from "./dom.js";

let openapi = null;
export async function schemas() {
  if (!openapi) openapi = await (await fetch("/openapi.json")).json();
  return openapi.components.schemas;
}

export function resolve(all, schema) {
  if (schema && schema.$ref) return all[schema.$ref.split("/").pop()];
  return schema || {};
}

// A field's schema without its `| None` branch, and whether null is allowed.
export function unwrap(all, schema) {
  const variants = schema.anyOf || schema.oneOf;
  if (variants) {
    const real = variants.filter((v) => v.type !== "null");
    if (real.length === 1) return { schema: { ...resolve(all, real[0]), ...pick(schema) }, nullable: true };
  }
  return { schema: { ...resolve(all, schema), ...pick(schema) }, nullable: false };
}

const pick = (s) => Object.fromEntries(["default", "description", "title"].filter((k) => k in s).map((k) => [k, s[k]]));

// Foreign keys the forms offer as a list of the referenced rows: field -> [path, label of a row].
const REFERENCES = {
  team_id: ["/teams", (r) => r.name],
  skill_id: ["/skills", (r) => r.name],
  user_id: ["/users", (r) => `${r.username}${r.full_name ? ` (${r.full_name})` : ""}`],
  agent_id: ["/agents", (r) => `${r.extension} ${r.sip_username}`],
  queue_id: ["/queues", (r) => r.name],
  overflow_queue_id: ["/queues", (r) => r.name],
  campaign_id: ["/campaigns", (r) => r.name],
  trunk_id: ["/trunks", (r) => r.name],
  flow_id: ["/ivr-flows", (r) => r.name],
  script_id: ["/call-scripts", (r) => r.name],
  lead_list_id: ["/lead-lists", (r) => r.name],
  list_id: ["/lead-lists", (r) => r.name],
};
const referenceCache = new Map();
async function referenceOptions(field) {
  const ref = REFERENCES[field];
  if (!ref) return null;
  if (!referenceCache.has(ref[0])) {
    referenceCache.set(ref[0], listAll(ref[0]).catch(() => null));
  }
  const rows = await referenceCache.get(ref[0]);
  return rows && rows.map((r) => [r.id, ref[1](r)]);
}
export const forgetReferences = () => referenceCache.clear();

// id -> label of the rows a reference field points at (null when the field is no reference or the
// caller may not list them), for showing names instead of ids in tables.
export async function referenceLabels(field) {
  const options = await referenceOptions(field);
  return options && new Map(options);
}

const LONG_TEXT = new Set(["script", "description", "comment", "notes"]);
let fieldCounter = 0;

async function control(all, name, rawSchema, value, required) {
  const { schema, nullable } = unwrap(all, rawSchema);
  const id = `f${++fieldCounter}`;
  const options = schema.type === "integer" ? await referenceOptions(name) : null;
  let input;
  let read;
  if (options) {
    input = h("select", { id, name },
      h("option", { value: "" }, nullable || !required ? t("form.none") : t("form.choose")),
      ...options.map(([v, label]) => h("option", { value: String(v), selected: value === v }, label)));
    read = () => (input.value === "" ? null : Number(input.value));
  } else if (schema.enum) {
    input = h("select", { id, name },
      ...(nullable ? [h("option", { value: "" }, t("form.none"))] : []),
      ...schema.enum.map((v) => h("option", { value: v, selected: value === v }, String(v))));
    read = () => (input.value === "" ? null : input.value);
  } else if (schema.type === "boolean") {
    input = h("input", { id, name, type: "checkbox", checked: Boolean(value) });
    read = () => input.checked;
  } else if (schema.type === "integer" || schema.type === "number") {
    input = h("input", { id, name, type: "number", value: value ?? "", step: schema.type === "integer" ? "1" : "any",
      min: schema.minimum ?? schema.exclusiveMinimum, max: schema.maximum });
    read = () => (input.value === "" ? null : Number(input.value));
  } else if (schema.type === "array" && resolve(all, schema.items).type === "object") {
    return rowsControl(all, name, resolve(all, schema.items), value || [], id);
  } else if (schema.type === "array") {
    input = h("input", { id, name, value: (value || []).join(", "), "aria-describedby": `${id}-hint` });
    read = () => input.value.split(",").map((s) => s.trim()).filter(Boolean);
  } else if (schema.type === "object" || (!schema.type && !schema.enum)) {
    input = h("textarea", { id, name, rows: 4 }, value == null ? "" : JSON.stringify(value, null, 2));
    read = () => (input.value.trim() === "" ? null : JSON.parse(input.value));
  } else if (LONG_TEXT.has(name)) {
    input = h("textarea", { id, name, rows: 4, maxlength: schema.maxLength }, value ?? "");
    read = () => input.value;
  } else {
    const secret = /password|secret/.test(name);
    input = h("input", { id, name, type: secret ? "password" : "text", value: value ?? "",
      maxlength: schema.maxLength, autocomplete: secret ? "new-password" : "off" });
    read = () => input.value;
  }
  if (required) input.required = true;
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  input.setAttribute("aria-describedby", `${id}-error`);
  const hint = schema.type === "array" ? h("span", { class: "hint", id: `${id}-hint` }, t("form.comma_list")) : null;
  const wrapper = h("div", { class: "field", "data-field": name },
    h("label", { for: id }, fieldLabel(name), required ? " *" : ""), input, hint, error);
  return { name, wrapper, read, error, input };
}

// A list of small objects (a queue's skills, an agent's skills): one row of controls per entry.
function rowsControl(all, name, itemSchema, value, id) {
  const props = Object.entries(itemSchema.properties || {});
  const required = new Set(itemSchema.required || []);
  const body = h("div", { class: "rows" });
  const rows = [];
  const addRow = async (entry = {}) => {
    const controls = [];
    for (const [prop, propSchema] of props) {
      controls.push(await control(all, prop, propSchema, entry[prop] ?? propSchema.default, required.has(prop)));
    }
    const remove = h("button", { type: "button", class: "secondary" }, t("form.remove"));
    const row = h("div", { class: "row" }, ...controls.map((c) => c.wrapper), remove);
    const record = { row, controls };
    remove.addEventListener("click", () => { row.remove(); rows.splice(rows.indexOf(record), 1); });
    rows.push(record);
    body.append(row);
  };
  const ready = Promise.all(value.map((entry) => addRow(entry)));
  const add = h("button", { type: "button", class: "secondary" }, t("form.add_row"));
  add.addEventListener("click", () => addRow());
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  const wrapper = h("fieldset", { class: "field", "data-field": name },
    h("legend", {}, fieldLabel(name)), body, add, error);
  const read = () => rows.map(({ controls }) =>
    Object.fromEntries(controls.map((c) => [c.name, c.read()]).filter(([, v]) => v !== null && v !== "")));
  return { name, wrapper, read, error, ready };
}

// A <form> for schema `schemaName`; `initial` fills it for an edit (then only changed fields are sent).
export async function schemaForm(schemaName, { initial = null, submitLabel, onSubmit, skip = [] }) {
  const all = await schemas();
  const schema = all[schemaName];
  const required = new Set(initial ? [] : schema.required || []);
  const controls = [];
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    if (skip.includes(name)) continue;
    const start = initial ? initial[name] : prop.default;
    const c = await control(all, name, prop, start, required.has(name));
    await c.ready;
    controls.push(c);
  }
  const status = h("p", { class: "form-status", role: "status" });
  const form = h("form", { class: "schema-form", novalidate: true },
    ...controls.map((c) => c.wrapper),
    h("div", { class: "actions" }, h("button", { type: "submit" }, submitLabel || t("form.save"))), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, controls, status);
    const values = {};
    for (const c of controls) {
      let value;
      try {
        value = c.read();
      } catch {
        c.error.textContent = t("form.bad_json");
        return;
      }
      if (initial) {
        // Write-only fields (a password) are not in the row: sent only when something was typed.
        const empty = value === null || value === "" || (Array.isArray(value) && value.length === 0);
        if (!(c.name in initial) && empty) continue;
        if (JSON.stringify(value) !== JSON.stringify(initial[c.name] ?? null)) values[c.name] = value;
      } else if (value !== null && value !== "" && !(Array.isArray(value) && value.length === 0 && !("default" in schema.properties[c.name]))) {
        values[c.name] = value;
      }
    }
    try {
      await onSubmit(values);
      status.textContent = t("form.saved");
    } catch (err) {
      showErrors(err, controls, status);
    }
  });
  return form;
}

function clearErrors(form, controls, status) {
  for (const c of controls) c.error.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  status.textContent = "";
  status.classList.remove("error");
}

// 422 entries go next to the field their `loc` names; anything else (409, 403, a field we do not show)
// goes to the form's status line.
export function showErrors(err, controls, status) {
  const unplaced = [];
  for (const entry of err.fieldErrors || []) {
    const loc = entry.loc || [];
    const field = loc[0] === "body" ? loc[1] : undefined;
    const c = controls.find((x) => x.name === field);
    if (c) {
      c.error.textContent = [c.error.textContent, entry.msg].filter(Boolean).join("; ");
      c.input?.setAttribute("aria-invalid", "true");
    } else unplaced.push(entry.msg);
  }
  if (!(err.fieldErrors || []).length) unplaced.push(err.message);
  status.textContent = unplaced.join("; ");
  status.classList.toggle("error", unplaced.length > 0);
  const first = controls.find((c) => c.error.textContent);
  if (first && first.input) first.input.focus();
}

export { api };
