import { h } from "./dom.js";
import { t } from "./i18n.js";

// The softphone's dial box: a number and a Call button (Enter in the number dials). `onDial(number)` places the
// call; the server routes it like a call from the agent's desk phone (extensions, the center's numbers, external
// numbers through a trunk when the agent may call them).

// What a SIP user part may carry from a keypad: digits, a leading +, * and # (feature codes), letters for SIP names.
const DIALABLE = /^\+?[0-9A-Za-z*#._-]{1,64}$/;

export function createDialBox(onDial) {
  const number = h("input", { id: "dial-number", maxlength: 64, inputmode: "tel", autocomplete: "off" });
  const error = h("p", { id: "dial-error", class: "field-error", role: "alert" });
  const dial = () => {
    const value = number.value.replace(/[\s()-]/g, "");
    if (!DIALABLE.test(value)) { error.textContent = t("phone.dial_invalid"); return; }
    error.textContent = "";
    onDial(value);
  };
  const call = h("button", { type: "button", id: "phone-call", disabled: true, onclick: dial }, t("phone.call"));
  number.addEventListener("input", () => { error.textContent = ""; });
  number.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !call.disabled) { event.preventDefault(); dial(); }
  });
  const element = h("div", { class: "field dial-box" },
    h("label", { for: "dial-number" }, t("phone.dial")), number, call, error);
  // `ready`: registered and no call in progress
  const enable = (ready) => { call.disabled = !ready; };
  return { element, enable };
}
