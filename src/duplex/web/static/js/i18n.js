// Translation: t("key", {name}) looks the key up in the current language's catalogue (messages.js), falls back
// to English, then to the key. The chosen language is kept in localStorage and set as <html lang>.
import { MESSAGES } from "./messages.js";

const LANG_KEY = "duplex.lang";
const listeners = new Set();

export const LANGUAGES = Object.keys(MESSAGES);

function initialLanguage() {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved && MESSAGES[saved]) return saved;
  const browser = (navigator.language || "en").slice(0, 2);
  return MESSAGES[browser] ? browser : "en";
}

let current = initialLanguage();

export const language = () => current;

export function t(key, params = {}) {
  const text = MESSAGES[current][key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

// A label for an API field: its catalogue entry if there is one, else the name made readable.
export function fieldLabel(name) {
  const key = `field.${name}`;
  if (MESSAGES[current][key] || MESSAGES.en[key]) return t(key);
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function applyStatic(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

export function setLanguage(lang) {
  if (!MESSAGES[lang]) return;
  current = lang;
  localStorage.setItem(LANG_KEY, lang);
  applyStatic();
  for (const listener of listeners) listener(lang);
}

export const onLanguageChange = (listener) => listeners.add(listener);
