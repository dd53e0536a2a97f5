// Every page of the console: its hash path, title, navigation group and the roles that see it. The
// administration pages are one generic view per REST resource (admin.js).
import { campaignStatus, queueMembers, resourceView, teamSupervisors } from "./admin.js";
import { hoursView, ivrView } from "./ivr.js";
import { leadImportView } from "./leads.js";
import { consoleView, desktopView, wallboardView } from "./live.js";
import { qualityView } from "./quality.js";
import { recordingsView } from "./recordings.js";

const ALL = ["admin", "supervisor", "agent"];
const STAFF = ["admin", "supervisor"];
const ADMIN = ["admin"];

// path, columns of the table, field naming a row, roles that read and write (as the API enforces them).
const RESOURCES = [
  { path: "users", schema: "User", columns: ["id", "username", "full_name", "role", "is_active"], labelField: "username", read: ADMIN, write: ADMIN },
  { path: "agents", schema: "Agent", columns: ["id", "extension", "sip_username", "team_id", "state", "skills"], labelField: "extension", read: STAFF, write: STAFF },
  { path: "teams", schema: "Team", columns: ["id", "name", "description"], labelField: "name", read: STAFF, write: ADMIN, extra: teamSupervisors },
  { path: "skills", schema: "Skill", columns: ["id", "name", "description"], labelField: "name", read: STAFF, write: ADMIN },
  { path: "queues", schema: "Queue", columns: ["id", "name", "strategy", "service_level_seconds", "team_id", "skills"], labelField: "name", read: STAFF, write: STAFF, extra: queueMembers },
  { path: "phone-numbers", schema: "PhoneNumber", columns: ["id", "number", "application", "flow_id", "queue_id", "tracking_source", "enabled"], labelField: "number", read: STAFF, write: ADMIN },
  { path: "trunks", schema: "Trunk", columns: ["id", "name", "host", "port", "transport", "max_channels", "enabled"], labelField: "name", read: ADMIN, write: ADMIN },
  { path: "contacts", schema: "Contact", columns: ["id", "name", "company", "phones", "email"], labelField: "name", read: STAFF, write: STAFF },
  { path: "campaigns", schema: "Campaign", columns: ["id", "name", "kind", "dial_mode", "status", "queue_id"], labelField: "name", read: STAFF, write: STAFF, extra: campaignStatus },
  { path: "lead-lists", schema: "LeadList", columns: ["id", "name", "campaign_id", "source", "active"], labelField: "name", read: STAFF, write: STAFF },
  { path: "dnc", schema: "Dnc", columns: ["id", "phone", "source", "reason", "expires_at"], labelField: "phone", read: STAFF, write: STAFF },
  { path: "call-scripts", schema: "CallScript", columns: ["id", "name", "description"], labelField: "name", read: STAFF, write: STAFF },
  { path: "dispositions", schema: "Disposition", columns: ["id", "code", "label", "campaign_id", "is_success", "is_final"], labelField: "code", read: STAFF, write: STAFF },
  { path: "scorecards", schema: "Scorecard", columns: ["id", "name", "active", "criteria"], labelField: "name", read: STAFF, write: STAFF },
];

export const ROUTES = [
  { path: "/", title: "nav.console", group: "nav.group.center", roles: ALL, view: consoleView },
  { path: "/desktop", title: "nav.desktop", group: "nav.group.center", roles: ["agent"], view: desktopView },
  { path: "/wallboard", title: "nav.wallboard", group: "nav.group.center", roles: STAFF, view: wallboardView },
  { path: "/recordings", title: "nav.recordings", group: "nav.group.center", roles: ALL, view: recordingsView },
  { path: "/quality", title: "nav.quality", group: "nav.group.center", roles: ALL, view: qualityView },
  ...RESOURCES.map((r) => ({
    path: `/admin/${r.path}`, title: `nav.${r.path}`, group: "nav.group.admin", roles: r.read,
    view: resourceView({ ...r, title: `nav.${r.path}`, create: `${r.schema}Create`, update: `${r.schema}Update`, writeRoles: r.write }),
  })),
  { path: "/admin/ivr", title: "nav.ivr", group: "nav.group.admin", roles: STAFF, view: ivrView },
  { path: "/admin/lead-import", title: "nav.lead_import", group: "nav.group.admin", roles: STAFF, view: leadImportView },
  { path: "/admin/hours", title: "nav.hours", group: "nav.group.admin", roles: STAFF, view: hoursView },
];
