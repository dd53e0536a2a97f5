// The keyboard shortcuts help: "?" (or the top bar's button) opens a dialog listing the shortcuts of the page
// on screen. A control with a shortcut says so in its aria-keyshortcuts (which screen readers announce too), so
// the list is read from the page: whatever the current view offers (softphone, wrap-up, preview, screen pop),
// with the control's own words, and nothing to keep in step by hand. Keys typed into a field are no control's
// shortcut; TYPING lists them with the element whose presence makes them apply.
import { clear, h } from "./dom.js";
import { t } from "./i18n.js";

const TYPING = [
  [".dtmf-pad", "0-9 * #", "keys.digits"],
  ["#dial-number", "Enter", "keys.dial"],
  ["#manual-phone", "Enter", "keys.manual_dial"],
  ["#pop-note", "Ctrl+Enter", "keys.save_note"],
  ["#wrapup-disposition", "Ctrl+Enter", "keys.save_wrapup"],
];

// Whether keys typed now go into a field (a shortcut without a modifier must leave them alone).
export const typing = (el) => Boolean(el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName)));

const nameOf = (el) => (el.getAttribute("aria-label") || el.labels?.[0]?.textContent || el.textContent || "").trim();

// [keys, what they do] for the controls under `root` that have a shortcut, in page order, then the typing keys.
export function shortcutRows(root) {
  const rows = new Map();
  for (const el of root.querySelectorAll("[aria-keyshortcuts]")) {
    const keys = el.getAttribute("aria-keyshortcuts");
    if (keys && !rows.has(keys)) rows.set(keys, nameOf(el));
  }
  const typed = TYPING.filter(([selector]) => root.querySelector(selector)).map(([, keys, key]) => [keys, t(key)]);
  return [...rows, ...typed];
}

// `button`: the top bar's button (shown while signed in); `main`: where the views draw.
export function setupShortcutHelp(button, main) {
  const title = h("h2", { id: "shortcut-title" });
  const list = h("dl", { id: "shortcut-list", class: "shortcut-list" });
  const close = h("button", { type: "button", class: "secondary", id: "shortcut-close" });
  const dialog = h("dialog", { id: "shortcut-help", "aria-labelledby": "shortcut-title" },
    title, list, h("div", { class: "actions" }, close));
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => button.focus());
  document.body.append(dialog);
  const open = () => {
    title.textContent = t("keys.title");
    close.textContent = t("keys.close");
    const rows = [...shortcutRows(main), ["?", t("keys.help")]];
    clear(list).append(...rows.flatMap(([keys, what]) => [h("dt", {}, h("kbd", {}, keys)), h("dd", {}, what)]));
    dialog.showModal();
  };
  button.addEventListener("click", open);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "?" || event.ctrlKey || event.altKey || event.metaKey || button.hidden) return;
    if (typing(document.activeElement)) return;
    event.preventDefault();
    if (dialog.open) dialog.close(); else open();
  });
}
