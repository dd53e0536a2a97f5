// The generic administration page of one REST resource: a table of its rows, a form (generated from the
// resource's OpenAPI schemas) to create one or edit the selected row, and delete. Extra panels (a queue's
// members, a campaign's status) are passed in by the resource definition.
import { ApiError, api, listAll } from "./api.js";
import { h, clear } from "./dom.js";
import { forgetReferences, referenceLabels, schemaForm } from "./forms.js";
import { fieldLabel, t } from "./i18n.js";

const cell = (value, labels) => {
  if (value === null || value === undefined) return "";
  if (labels && typeof value === "number") return labels.get(value) ?? `#${value}`;
  if (Array.isArray(value) && value.length && value[0].skill_id !== undefined) {
    return value.map((s) => `${labels?.get(s.skill_id) ?? `#${s.skill_id}`} ${s.proficiency ?? s.min_proficiency ?? ""}`.trim()).join(", ");
  }
  if (Array.isArray(value) && value.length && value[0].name !== undefined) return value.map((v) => v.name).join(", ");
  if (typeof value === "boolean") return value ? t("common.yes") : t("common.no");
  if (Array.isArray(value)) return value.map((v) => (typeof v === "object" ? Object.values(v).join(":") : v)).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
};

export function resourceView(def) {
  return async (main, session) => {
    const canWrite = def.writeRoles.includes(session.me.role);
    const tableBox = h("div", { class: "table-box" });
    const formBox = h("section", { class: "panel", "aria-labelledby": "form-title" });
    main.append(h("div", { class: "admin-layout" }, tableBox, formBox));
    let rows = [];

    const showForm = async (row) => {
      clear(formBox);
      const title = row ? t("admin.edit", { name: row[def.labelField] ?? `#${row.id}` }) : t("admin.new");
      formBox.append(h("h2", { id: "form-title" }, title));
      if (!canWrite) {
        formBox.append(h("p", { class: "hint" }, t("admin.read_only")));
        return;
      }
      const form = await schemaForm(row ? def.update : def.create, {
        initial: row,
        skip: def.skip || [],
        submitLabel: row ? t("form.save") : t("admin.create"),
        onSubmit: async (values) => {
          const saved = row
            ? await api(`/${def.path}/${row.id}`, { method: "PATCH", body: values })
            : await api(`/${def.path}`, { method: "POST", body: values });
          forgetReferences();
          await reload();
          await showForm(saved);
          formBox.querySelector(".form-status").textContent = t("form.saved");
        },
      });
      form.id = `${def.path}-form`;
      formBox.append(form);
      if (row && def.extra) formBox.append(await def.extra(row, session, reload));
      if (row && def.deletable !== false) {
        const remove = h("button", { type: "button", class: "danger" }, t("admin.delete"));
        const status = h("p", { role: "status" });
        remove.addEventListener("click", async () => {
          if (!confirm(t("admin.confirm_delete"))) return;
          try {
            await api(`/${def.path}/${row.id}`, { method: "DELETE" });
            forgetReferences();
            await reload();
            await showForm(null);
          } catch (err) {
            status.textContent = err.message;
          }
        });
        formBox.append(h("div", { class: "actions" }, remove), status);
      }
    };

    const reload = async () => {
      try {
        rows = await listAll(`/${def.path}`);
      } catch (err) {
        clear(tableBox).append(h("p", { class: "error", role: "alert" }, err instanceof ApiError ? err.message : String(err)));
        return;
      }
      const labels = new Map();
      for (const c of def.columns) labels.set(c, await referenceLabels(c === "skills" ? "skill_id" : c));
      const head = h("tr", {}, ...def.columns.map((c) => h("th", { scope: "col" }, fieldLabel(c))), h("th", { scope: "col" }, h("span", { class: "sr-only" }, t("admin.actions"))));
      const body = rows.map((row) => h("tr", { "data-id": row.id },
        ...def.columns.map((c) => h("td", {}, c === "state" ? t(`state.${row[c]}`) : cell(row[c], labels.get(c)))),
        h("td", {}, h("button", { type: "button", class: "link", onclick: () => showForm(row) },
          canWrite ? t("admin.edit_button") : t("admin.view_button")))));
      const newButton = canWrite ? h("button", { type: "button", onclick: () => showForm(null) }, t("admin.new")) : null;
      clear(tableBox).append(
        h("div", { class: "toolbar" }, h("span", { role: "status" }, t("admin.count", { count: rows.length })), newButton),
        h("table", { id: `${def.path}-table` }, h("caption", { class: "sr-only" }, t(def.title)), h("thead", {}, head), h("tbody", {}, ...body)));
    };

    await reload();
    await showForm(null);
  };
}

// A queue's members: the agents who take its calls, with a penalty each (PUT replaces the set).
export async function queueMembers(queue) {
  const [agents, members] = await Promise.all([listAll("/agents").catch(() => []), api(`/queues/${queue.id}/members`)]);
  const penalty = new Map(members.map((m) => [m.agent_id, m.penalty]));
  const rows = agents.map((agent) => {
    const box = h("input", { type: "checkbox", id: `member-${agent.id}`, checked: penalty.has(agent.id) });
    const pen = h("input", { type: "number", min: 0, max: 100, value: penalty.get(agent.id) ?? 0, "aria-label": t("queue.penalty_of", { agent: agent.extension }) });
    return { agent, box, pen, el: h("tr", {}, h("td", {}, box), h("td", {}, h("label", { for: `member-${agent.id}` }, `${agent.extension} ${agent.sip_username}`)), h("td", {}, pen)) };
  });
  const status = h("p", { role: "status" });
  const save = h("button", { type: "button" }, t("queue.save_members"));
  save.addEventListener("click", async () => {
    const body = rows.filter((r) => r.box.checked).map((r) => ({ agent_id: r.agent.id, penalty: Number(r.pen.value || 0) }));
    try {
      await api(`/queues/${queue.id}/members`, { method: "PUT", body });
      status.textContent = t("queue.members_saved", { count: body.length });
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return h("section", { class: "subpanel", "aria-label": t("queue.members") },
    h("h3", {}, t("queue.members")),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, t("queue.member")), h("th", {}, t("field.agent_id")), h("th", {}, t("field.penalty")))),
      h("tbody", {}, ...rows.map((r) => r.el))),
    save, status);
}

// A campaign's status (draft, running, paused, ...) goes through its own endpoint, not PATCH.
export async function campaignStatus(campaign, session, reload) {
  const select = h("select", { id: "campaign-status" },
    ...["draft", "running", "paused", "finished"].map((s) => h("option", { value: s, selected: campaign.status === s }, t(`campaign.status.${s}`))));
  const status = h("p", { role: "status" });
  const apply = h("button", { type: "button" }, t("campaign.set_status"));
  apply.addEventListener("click", async () => {
    try {
      await api(`/campaigns/${campaign.id}/status`, { method: "POST", body: { status: select.value } });
      status.textContent = t("form.saved");
      await reload();
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return h("section", { class: "subpanel" }, h("h3", {}, t("campaign.status")),
    h("label", { for: "campaign-status" }, t("campaign.status")), select, apply, status);
}

// A team's supervisors: the supervisor users who see and manage its agents (PUT replaces the set).
export async function teamSupervisors(team) {
  const [users, current] = await Promise.all([listAll("/users").catch(() => []), api(`/teams/${team.id}/supervisors`)]);
  const chosen = new Set(current.map((s) => s.user_id));
  const boxes = users.filter((u) => u.role === "supervisor").map((user) => {
    const box = h("input", { type: "checkbox", id: `supervisor-${user.id}`, checked: chosen.has(user.id) });
    return { user, box, el: h("div", { class: "field inline" }, box, h("label", { for: `supervisor-${user.id}` }, user.full_name || user.username)) };
  });
  const status = h("p", { role: "status" });
  const save = h("button", { type: "button" }, t("team.save_supervisors"));
  save.addEventListener("click", async () => {
    const body = boxes.filter((b) => b.box.checked).map((b) => ({ user_id: b.user.id }));
    try {
      await api(`/teams/${team.id}/supervisors`, { method: "PUT", body });
      status.textContent = t("form.saved");
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return h("section", { class: "subpanel" }, h("h3", {}, t("team.supervisors")),
    ...(boxes.length ? boxes.map((b) => b.el) : [h("p", { class: "hint" }, t("team.no_supervisors"))]), save, status);
}
