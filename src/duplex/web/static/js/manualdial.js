// Manual dial on the outbound desktop: for a running campaign that allows it (`manual_dial`), a number and a
// button (Alt+G, or Enter in the number). The server checks it against the campaign's rules and places it through
// the campaign's trunk; the callee's answer comes to this agent's softphone. A refusal the API gives as a 422 (an
// invalid number, a DNC number, outside the callee's calling hours...) is shown next to the number.
import { api } from "./api.js";
import { h } from "./dom.js";
import { showErrors } from "./forms.js";
import { t } from "./i18n.js";

// `campaigns`: the running campaigns that allow manual dial; `onDialed(answer)` gets the API's answer
// ({call_id, phone, lead_id, campaign_id}).
export function manualDialPanel(campaigns, onDialed) {
  const campaign = h("select", { id: "manual-campaign" },
    ...campaigns.map((c) => h("option", { value: c.id }, c.name)));
  const phone = h("input", { id: "manual-phone", name: "phone", maxlength: 32, inputmode: "tel", autocomplete: "off",
    "aria-describedby": "manual-phone-error" });
  const error = h("p", { id: "manual-phone-error", class: "field-error", role: "alert" });
  const status = h("p", { id: "manual-status", "aria-live": "polite" });
  const controls = [{ name: "phone", input: phone, error }];
  const dial = async () => {
    error.textContent = "";
    phone.removeAttribute("aria-invalid");
    status.textContent = "";
    status.classList.remove("error");
    if (!phone.value.trim()) { error.textContent = t("manual.empty"); phone.focus(); return; }
    button.disabled = true;
    try {
      const done = await api(`/campaigns/${campaign.value}/manual-dial`, { method: "POST", body: { phone: phone.value.trim() } });
      phone.value = "";
      status.textContent = t("preview.dialing", { phone: done.phone });
      await onDialed(done);
    } catch (err) {
      showErrors(err, controls, status);
    } finally {
      button.disabled = false;
    }
  };
  const button = h("button", { type: "button", id: "manual-dial", "aria-keyshortcuts": "Alt+G", onclick: dial }, t("manual.dial"));
  phone.addEventListener("input", () => { error.textContent = ""; phone.removeAttribute("aria-invalid"); });
  phone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !button.disabled) { event.preventDefault(); dial(); }
  });
  const element = h("section", { class: "panel", id: "manual-panel" }, h("h2", {}, t("manual.title")),
    h("div", { class: "field inline" }, h("label", { for: "manual-campaign" }, t("manual.campaign")), campaign),
    h("div", { class: "field", "data-field": "phone" }, h("label", { for: "manual-phone" }, t("manual.phone")), phone, button, error),
    status, h("p", { class: "hint" }, t("manual.shortcuts")));
  return element;
}
