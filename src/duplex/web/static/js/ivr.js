// The IVR flow editor: the definition as JSON (or YAML) text, checked by POST /ivr-flows/validate; every
// error is shown on the card of the node its `ctx.node` names (and that node turns red in the graph). Saving
// makes a new version (PATCH), publishing makes the latest version live.
import { ApiError, api, listAll } from "./api.js";
import { clear, h, svg } from "./dom.js";
import { t } from "./i18n.js";

// The fields of a node that name another node, per docs/ivr.md.
const TARGET_FIELDS = ["next", "on_invalid", "on_timeout", "default", "open", "closed", "holiday", "on_error", "on_overflow", "after_call"];

export function edgesOf(node) {
  const edges = [];
  if (!node || typeof node !== "object") return edges;
  for (const field of TARGET_FIELDS) if (typeof node[field] === "string") edges.push([field, node[field]]);
  for (const [digit, target] of Object.entries(node.options || {})) edges.push([digit, target]);
  (node.rules || []).forEach((rule, i) => { if (rule && typeof rule.goto === "string") edges.push([`#${i + 1}`, rule.goto]); });
  return edges;
}

// Columns by distance from `start` (breadth first); nodes no path reaches go in a last column.
function layers(flow) {
  const names = Object.keys(flow.nodes || {});
  const depth = new Map();
  const queue = flow.start in (flow.nodes || {}) ? [flow.start] : [];
  if (queue.length) depth.set(flow.start, 0);
  while (queue.length) {
    const name = queue.shift();
    for (const [, target] of edgesOf(flow.nodes[name])) {
      if (target in flow.nodes && !depth.has(target)) { depth.set(target, depth.get(name) + 1); queue.push(target); }
    }
  }
  const last = Math.max(-1, ...depth.values()) + 1;
  const columns = [];
  for (const name of names) {
    const d = depth.has(name) ? depth.get(name) : last;
    (columns[d] ||= []).push(name);
  }
  return columns.filter(Boolean);
}

export function flowGraph(flow, errorNodes = new Set()) {
  const W = 150, H = 44, GAP_X = 70, GAP_Y = 26;
  const columns = layers(flow);
  const pos = new Map();
  columns.forEach((column, x) => column.forEach((name, y) => pos.set(name, { x: 10 + x * (W + GAP_X), y: 10 + y * (H + GAP_Y) })));
  const width = 20 + columns.length * (W + GAP_X);
  const height = 20 + Math.max(1, ...columns.map((c) => c.length)) * (H + GAP_Y);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-labelledby": "graph-title", class: "flow-graph" },
    svg("title", { id: "graph-title" }, t("ivr.graph_title")),
    svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#4a5568" }))));
  for (const [name, node] of Object.entries(flow.nodes || {})) {
    const from = pos.get(name);
    const merged = new Map(); // one arrow per target, labelled with every way there ("closed, holiday")
    for (const [label, target] of edgesOf(node)) merged.set(target, [...(merged.get(target) || []), label]);
    for (const [target, labels] of merged) {
      const label = labels.join(", ");
      const to = pos.get(target);
      if (!to) continue;
      const x1 = from.x + W, y1 = from.y + H / 2;
      const x2 = to.x <= from.x ? to.x + W / 2 : to.x, y2 = to.x <= from.x ? to.y + (to.y >= from.y ? 0 : H) : to.y + H / 2;
      const mx = (x1 + x2) / 2;
      root.append(svg("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, class: "edge", "marker-end": "url(#arrow)", "data-from": name, "data-to": target }),
        svg("text", { x: mx, y: (y1 + y2) / 2 - 3, class: "edge-label" }, label));
    }
  }
  for (const [name, node] of Object.entries(flow.nodes || {})) {
    const { x, y } = pos.get(name);
    const classes = ["node", name === flow.start ? "start" : "", errorNodes.has(name) ? "invalid" : ""].join(" ");
    root.append(svg("g", { class: classes, "data-node": name, transform: `translate(${x},${y})` },
      svg("rect", { width: W, height: H, rx: 6 }),
      svg("text", { x: 8, y: 18, class: "node-name" }, name),
      svg("text", { x: 8, y: 35, class: "node-type" }, (node && node.type) || "?")));
  }
  return root;
}

function parseText(text) {
  try { return JSON.parse(text); } catch { return null; }
}

const NEW_FLOW = { start: "welcome", language: "en", nodes: { welcome: { type: "say", text: "Hello", next: "bye" }, bye: { type: "hangup" } } };

export async function ivrView(main, session) {
  const canWrite = session.me.role === "admin";
  const flows = await listAll("/ivr-flows");
  const picker = h("select", { id: "flow-picker" }, h("option", { value: "" }, t("ivr.new_flow")),
    ...flows.map((f) => h("option", { value: f.id }, `${f.name} (v${f.latest_version ?? "-"}, ${t("ivr.published")} ${f.published_version ?? "-"})`)));
  const name = h("input", { id: "flow-name", required: true, "aria-describedby": "flow-name-error" });
  const nameError = h("p", { class: "field-error", id: "flow-name-error", role: "alert" });
  const editor = h("textarea", { id: "flow-definition", rows: 22, spellcheck: "false", class: "code", "aria-describedby": "flow-errors" });
  const flowErrors = h("ul", { id: "flow-errors", class: "field-error", "aria-live": "polite" });
  const nodesBox = h("div", { id: "flow-nodes", class: "node-cards" });
  const graphBox = h("div", { id: "flow-graph", class: "graph-box" });
  const status = h("p", { id: "flow-status", role: "status" });
  let current = null;

  const draw = (errors = []) => {
    const flow = parseText(editor.value);
    clear(nodesBox); clear(graphBox); clear(flowErrors);
    const byNode = new Map();
    for (const e of errors) {
      const node = e.ctx?.node ?? null;
      if (node === null || !(flow?.nodes && node in flow.nodes)) flowErrors.append(h("li", {}, e.msg));
      else (byNode.get(node) || byNode.set(node, []).get(node)).push(e.msg);
    }
    if (!flow || typeof flow.nodes !== "object") {
      graphBox.append(h("p", { class: "hint" }, t("ivr.graph_needs_json")));
      return;
    }
    graphBox.append(flowGraph(flow, new Set(byNode.keys())));
    for (const [nodeName, node] of Object.entries(flow.nodes)) {
      const messages = byNode.get(nodeName) || [];
      const targets = edgesOf(node).map(([label, target]) => `${label} → ${target}`).join(", ");
      nodesBox.append(h("article", { class: `node-card${messages.length ? " invalid" : ""}`, id: `node-${nodeName}`, "data-node": nodeName, "aria-invalid": messages.length ? "true" : false },
        h("h3", {}, nodeName, " ", h("span", { class: "badge" }, node?.type ?? "?")),
        targets ? h("p", { class: "hint" }, targets) : null,
        ...messages.map((m) => h("p", { class: "field-error node-error", role: "alert" }, m))));
    }
  };

  const load = async (id) => {
    current = id ? flows.find((f) => String(f.id) === String(id)) : null;
    name.value = current ? current.name : "";
    name.disabled = Boolean(current);
    let definition = NEW_FLOW;
    if (current && current.latest_version) {
      const versions = await api(`/ivr-flows/${current.id}/versions`);
      definition = versions[versions.length - 1].definition;
    }
    editor.value = JSON.stringify(definition, null, 2);
    publish.disabled = !current || !canWrite;
    status.textContent = "";
    draw();
  };

  const definitionBody = () => parseText(editor.value) ?? editor.value;
  const errorsOf = (err) => (err instanceof ApiError ? err.fieldErrors : []);

  const validate = async () => {
    try {
      const result = await api("/ivr-flows/validate", { method: "POST", body: { definition: definitionBody() } });
      draw(result.errors);
      status.textContent = result.valid ? t("ivr.valid") : t("ivr.invalid", { count: result.errors.length });
      return result.valid;
    } catch (err) {
      draw(errorsOf(err));
      status.textContent = err.message;
      return false;
    }
  };

  const save = async () => {
    nameError.textContent = "";
    try {
      const body = { definition: definitionBody() };
      const saved = current
        ? await api(`/ivr-flows/${current.id}`, { method: "PATCH", body })
        : await api("/ivr-flows", { method: "POST", body: { ...body, name: name.value } });
      const index = flows.findIndex((f) => f.id === saved.id);
      if (index >= 0) flows[index] = saved; else flows.push(saved);
      if (!current) picker.append(h("option", { value: saved.id }, saved.name));
      picker.value = String(saved.id);
      current = saved;
      name.disabled = true;
      publish.disabled = false;
      draw();
      status.textContent = t("ivr.saved", { version: saved.latest_version });
    } catch (err) {
      const errors = errorsOf(err);
      for (const e of errors) if (e.loc?.[1] === "name") nameError.textContent = e.msg;
      draw(errors.filter((e) => e.loc?.[1] !== "name"));
      status.textContent = t("ivr.not_saved", { reason: err.message });
    }
  };

  const publish = h("button", { type: "button", id: "flow-publish", disabled: true }, t("ivr.publish"));
  publish.addEventListener("click", async () => {
    try {
      const flow = await api(`/ivr-flows/${current.id}/publish`, { method: "POST", body: { version: current.latest_version } });
      current = flow;
      status.textContent = t("ivr.published_version", { version: flow.published_version });
    } catch (err) {
      draw(errorsOf(err));
      status.textContent = err.message;
    }
  });
  let redraw = null;
  editor.addEventListener("input", () => { clearTimeout(redraw); redraw = setTimeout(() => draw(), 300); });
  picker.addEventListener("change", () => load(picker.value));

  main.append(h("div", { class: "ivr-layout" },
    h("section", { class: "panel" },
      h("div", { class: "field" }, h("label", { for: "flow-picker" }, t("ivr.flow")), picker),
      h("div", { class: "field" }, h("label", { for: "flow-name" }, t("field.name")), name, nameError),
      h("div", { class: "field" }, h("label", { for: "flow-definition" }, t("ivr.definition")), editor),
      flowErrors,
      h("div", { class: "actions" },
        h("button", { type: "button", id: "flow-validate", class: "secondary", onclick: validate }, t("ivr.validate")),
        canWrite ? h("button", { type: "button", id: "flow-save", onclick: save }, t("ivr.save")) : null,
        canWrite ? publish : null),
      status),
    h("section", { class: "panel" }, h("h2", {}, t("ivr.graph")), graphBox, h("h2", {}, t("ivr.nodes")), nodesBox)));
  await load(flows.length ? flows[0].id : "");
  picker.value = flows.length ? String(flows[0].id) : "";
}

// Business hours live in the `hours` nodes of the IVR flows: this page lists them per flow (edit them in
// the flow editor).
export async function hoursView(main) {
  const flows = await listAll("/ivr-flows");
  const days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  let found = 0;
  for (const flow of flows) {
    if (!flow.latest_version) continue;
    const versions = await api(`/ivr-flows/${flow.id}/versions`);
    const definition = versions[versions.length - 1].definition;
    for (const [nodeName, node] of Object.entries(definition.nodes || {})) {
      if (node.type !== "hours") continue;
      found += 1;
      const schedule = node.schedule || {};
      main.append(h("section", { class: "panel hours" },
        h("h2", {}, `${flow.name} · ${nodeName}`),
        h("p", { class: "hint" }, t("hours.timezone", { zone: node.timezone || definition.timezone || "UTC" })),
        h("table", {}, h("thead", {}, h("tr", {}, ...days.map((d) => h("th", { scope: "col" }, t(`day.${d}`))))),
          h("tbody", {}, h("tr", {}, ...days.map((d) => h("td", {}, (schedule[d] || []).map((r) => r.join("–")).join(", ") || t("hours.closed")))))),
        (node.holidays || []).length ? h("p", {}, t("hours.holidays"), " ", node.holidays.join(", ")) : null,
        h("a", { href: "#/admin/ivr" }, t("hours.edit_in_flow"))));
    }
  }
  if (!found) main.append(h("p", {}, t("hours.none")));
}
