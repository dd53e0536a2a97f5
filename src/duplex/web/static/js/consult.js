import { h } from "./dom.js";
import { t } from "./i18n.js";

// Attended transfer from the softphone: Consult holds the caller and calls the number in the transfer box (the
// consultation); Complete transfer sends a REFER with Replaces on the caller's call (RFC 3891), so Duplex bridges
// the caller to the consulted party and hangs up both of the agent's calls. Ending the consultation leaves the
// caller on hold for the agent to resume.
//
// `ua()` and `call()` give the softphone's JsSIP UA and its call; `target` is the transfer box; `media` the call
// options. While the softphone has a call, a call placed in this page is the consultation (softphone.js leaves it
// to this module).
export function createConsult({ ua, call, target, media }) {
  let session = null;
  let state = "idle";
  let live = false;
  const audio = h("audio", { id: "consult-audio", autoplay: true });
  const label = h("p", { id: "softphone-consult", "aria-live": "polite", "data-state": "idle" });
  const button = (id, key, shortcut, onclick) =>
    h("button", { type: "button", id, "aria-keyshortcuts": shortcut, disabled: true, onclick }, t(key));

  const draw = () => {
    consult.disabled = !live || session !== null;
    complete.disabled = state !== "talking" || !live;
    end.disabled = session === null;
    label.dataset.state = state;
    label.textContent = session ? t("phone.consulting", { number: session.remote_identity.uri.user }) : "";
  };
  const place = () => {
    const number = target.value.trim();
    const current = call();
    if (!number || !current || session || !ua()) return;
    if (!current.isOnHold().local) current.hold();
    const placed = ua().call(number, media);
    session = placed;
    state = "calling";
    placed.connection?.addEventListener("track", (e) => { audio.srcObject = e.streams[0] || new MediaStream([e.track]); });
    placed.on("confirmed", () => { state = "talking"; draw(); });
    const over = (e) => {
      if (session !== placed) return;
      session = null;
      state = "idle";
      audio.srcObject = null;
      draw();
      if (e?.cause && e.originator !== "local") label.textContent = t("phone.call_failed", { cause: e.cause });
    };
    placed.on("ended", () => over());
    placed.on("failed", over);
    draw();
  };
  const consult = button("phone-consult", "phone.consult", "Alt+C", place);
  const complete = button("phone-complete", "phone.complete_transfer", "Alt+X", () => {
    const current = call();
    if (current && session && state === "talking") current.refer(session.remote_identity.uri.toString(), { replaces: session });
  });
  const end = button("phone-consult-end", "phone.consult_end", undefined, () => session?.terminate());
  const keys = { c: consult, x: complete };
  const element = h("div", { class: "actions consult" }, consult, complete, end, label, audio);

  return {
    element,
    keys,
    // the softphone's call is live (talking) or not
    refresh(isLive) { live = isLive; draw(); },
  };
}
