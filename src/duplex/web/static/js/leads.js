// Lead import: pick a list and a CSV, upload it with a progress bar, then show the import report (counts and
// every rejected row) with the rejected rows downloadable as CSV.
import { ApiError, listAll, token } from "./api.js";
import { clear, h } from "./dom.js";
import { t } from "./i18n.js";

// Progress of an import. Today's endpoint answers with the finished report, so progress is the upload's
// (bytes sent) and then "processing" until the answer arrives. A streaming import job API would plug in
// here: return a job handle from `startImport` and poll or subscribe in `followImportJob`, calling
// `onProgress(done, total)` - nothing else on this page needs to change.
export const importProgress = {
  startImport(listId, file, params, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `/api/v1/lead-lists/${listId}/import?${new URLSearchParams(params)}`);
      xhr.setRequestHeader("Authorization", `Bearer ${token()}`);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress("upload", e.loaded, e.total); };
      xhr.upload.onload = () => onProgress("processing", 0, 0);
      xhr.onload = () => {
        const body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else reject(new ApiError(xhr.status, body));
      };
      xhr.onerror = () => reject(new Error(t("leads.network_error")));
      const form = new FormData();
      form.append("file", file);
      xhr.send(form);
    });
  },
  async followImportJob(answer) {
    return answer; // today the answer already is the report
  },
};

const csvCell = (v) => (/[",\r\n]/.test(String(v ?? "")) ? `"${String(v).replace(/"/g, '""')}"` : String(v ?? ""));

export function errorReportCsv(report) {
  const lines = [["row", "field", "message"].join(",")];
  for (const e of report.errors) lines.push([e.row, e.field ?? "", e.message].map(csvCell).join(","));
  return lines.join("\r\n") + "\r\n";
}

export async function leadImportView(main) {
  const lists = await listAll("/lead-lists");
  const list = h("select", { id: "import-list", required: true }, ...lists.map((l) => h("option", { value: l.id }, `${l.name} (#${l.id})`)));
  const file = h("input", { id: "import-file", type: "file", accept: ".csv,text/csv", required: true, "aria-describedby": "import-file-error" });
  const fileError = h("p", { class: "field-error", id: "import-file-error", role: "alert" });
  const region = h("input", { id: "import-region", value: "RO", maxlength: 2, size: 3, "aria-describedby": "import-region-error" });
  const regionError = h("p", { class: "field-error", id: "import-region-error", role: "alert" });
  const duplicate = h("select", { id: "import-duplicates" }, ...["skip", "update"].map((v) => h("option", { value: v }, t(`leads.dup.${v}`))));
  const dryRun = h("input", { id: "import-dry-run", type: "checkbox" });
  const progress = h("progress", { id: "import-progress", max: 100, value: 0, "aria-label": t("leads.progress") });
  const phase = h("p", { id: "import-phase", role: "status" });
  const report = h("section", { id: "import-report", "aria-live": "polite" });
  const form = h("form", { id: "import-form", class: "panel" },
    lists.length ? null : h("p", { class: "hint" }, t("leads.no_lists")),
    h("div", { class: "field" }, h("label", { for: "import-list" }, t("leads.list")), list),
    h("div", { class: "field" }, h("label", { for: "import-file" }, t("leads.file")), file, fileError),
    h("div", { class: "field" }, h("label", { for: "import-region" }, t("leads.region")), region, regionError),
    h("div", { class: "field" }, h("label", { for: "import-duplicates" }, t("leads.on_duplicate")), duplicate),
    h("div", { class: "field inline" }, dryRun, h("label", { for: "import-dry-run" }, t("leads.dry_run"))),
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("leads.import"))),
    progress, phase);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fileError.textContent = regionError.textContent = "";
    clear(report);
    if (!file.files.length) { fileError.textContent = t("leads.choose_file"); file.focus(); return; }
    const params = { on_duplicate: duplicate.value, dry_run: String(dryRun.checked) };
    if (region.value.trim()) params.region = region.value.trim();
    progress.value = 0;
    try {
      const answer = await importProgress.startImport(list.value, file.files[0], params, (stage, done, total) => {
        if (stage === "upload") { progress.value = Math.round((100 * done) / total); phase.textContent = t("leads.uploading", { percent: progress.value }); }
        else { phase.textContent = t("leads.processing"); }
      });
      const result = await importProgress.followImportJob(answer);
      progress.value = 100;
      phase.textContent = t("leads.done");
      showReport(report, result);
    } catch (err) {
      phase.textContent = err.message;
      for (const e of err.fieldErrors || []) {
        if (e.loc?.[1] === "region") regionError.textContent = e.msg;
        else if (e.loc?.[1] === "file") fileError.textContent = e.msg;
      }
    }
  });
  main.append(form, report);
}

function showReport(box, report) {
  const c = report.counts;
  const counts = [["imported", c.imported], ["updated", c.updated], ["skipped_duplicates", c.skipped_duplicates], ["rejected", c.rejected], ["dnc_flagged", c.dnc_flagged]];
  box.append(h("h2", {}, report.dry_run ? t("leads.report_dry") : t("leads.report")),
    h("p", {}, t("leads.rows", { count: report.data_rows })),
    h("dl", { class: "counts" }, ...counts.flatMap(([k, v]) => [h("dt", {}, t(`leads.count.${k}`)), h("dd", { "data-count": k }, String(v))])));
  if (report.errors.length) {
    const blob = new Blob([errorReportCsv(report)], { type: "text/csv" });
    box.append(
      h("a", { id: "import-error-report", href: URL.createObjectURL(blob), download: `lead-import-errors-${report.list_id}.csv`, class: "button" }, t("leads.download_errors")),
      ...(report.errors_truncated ? [h("p", { class: "hint" }, t("leads.errors_truncated"))] : []),
      h("table", { id: "import-errors" },
        h("thead", {}, h("tr", {}, h("th", {}, t("leads.row")), h("th", {}, t("leads.field")), h("th", {}, t("leads.message")))),
        h("tbody", {}, ...report.errors.map((e) => h("tr", {}, h("td", {}, String(e.row)), h("td", {}, e.field ?? ""), h("td", {}, e.message))))));
  }
}
