import { api } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

// Attended transfer and three-way conference from the softphone. Consult holds the caller and calls the number
// in the transfer box (the consultation). Then:
// - Complete transfer sends a REFER with Replaces on the caller's call (RFC 3891), so Duplex bridges the caller
//   to the consulted party and hangs up both of the agent's calls;
// - Conference asks Duplex to join the consultation into the caller's call (POST /calls/{id}/conference, naming
//   the consultation by its SIP Call-ID): Duplex ends the consultation call and mixes the three; the caller is
//   taken off hold here. Hanging up leaves the other two talking;
// - End consultation (or the consulted party hanging up) leaves the caller on hold for the agent to resume.
// If the caller hangs up during the consultation, the consultation becomes the softphone's call (`takeOver`).
//
// `ua()` and `call()` give the softphone's JsSIP UA and its call, `callId()` the caller's call id (the INVITE's
// X-Duplex-Call-Id); `target` is the transfer box; `media` the call options; `offerResume()` points the agent
// at Resume; `events` the live event stream, whose call.conference_ended says who left a conference. While the softphone has a call, a call placed in this page is the consultation (softphone.js leaves
// it to this module).
export function createConsult({ ua, call, callId, target, media, offerResume, events }) {
  let session = null;
  let joined = null;  // the conference (POST /calls/{id}/conference's answer) while it lasts
  let sipCallId = "";
  let number = "";
  let state = "idle"; // idle, calling, talking (the consultation), joining, conference
  let live = false;
  let note = "";
  const audio = h("audio", { id: "consult-audio", autoplay: true });
  const label = h("p", { id: "softphone-consult", "aria-live": "polite", "data-state": "idle" });
  const error = h("p", { id: "consult-error", class: "field-error", role: "alert" });
  const button = (id, key, shortcut, onclick) =>
    h("button", { type: "button", id, "aria-keyshortcuts": shortcut, disabled: true, onclick }, t(key));

  const draw = () => {
    consult.disabled = !live || state !== "idle";
    complete.disabled = state !== "talking" || !live;
    conference.disabled = state !== "talking" || !live || !callId();
    end.disabled = session === null || state === "joining";
    label.dataset.state = state;
    if (state === "conference") label.textContent = t("phone.conference_on", { number });
    else label.textContent = session ? t("phone.consulting", { number }) : note;
  };
  const place = () => {
    const dialled = target.value.trim();
    const current = call();
    if (!dialled || !current || session || !ua()) return;
    if (!current.isOnHold().local) current.hold();
    const placed = ua().call(dialled, media);
    session = placed;
    number = placed.remote_identity.uri.user;
    sipCallId = "";
    note = error.textContent = "";
    state = "calling";
    placed.connection?.addEventListener("track", (e) => { audio.srcObject = e.streams[0] || new MediaStream([e.track]); });
    placed.on("accepted", (e) => { sipCallId = e.response?.call_id || ""; });
    placed.on("confirmed", () => { state = "talking"; draw(); });
    const over = (e) => {
      if (session !== placed) return;  // taken over by the softphone, or an older consultation
      session = null;
      audio.srcObject = null;
      if (state === "joining" || state === "conference") { draw(); return; }  // Duplex ended it: joined
      state = "idle";
      if (e?.cause && e.originator !== "local") note = t("phone.call_failed", { cause: e.cause });
      else if (live) { note = t("phone.consult_over"); offerResume?.(); }
      draw();
    };
    placed.on("ended", () => over());
    placed.on("failed", over);
    draw();
  };
  const join = async () => {
    const current = call();
    const id = callId();
    if (!current || !session || state !== "talking" || !id || !sipCallId) return;
    state = "joining";
    error.textContent = "";
    draw();
    try {
      joined = await api(`/calls/${encodeURIComponent(id)}/conference`, { method: "POST", body: { consultation: sipCallId } });
    } catch (err) {
      state = session ? "talking" : "idle";
      draw();
      error.textContent = t("phone.conference_failed", { reason: err.message });
      return;
    }
    state = "conference";
    if (call()?.isOnHold().local) call().unhold();  // the caller and the consulted party hear the agent now
    draw();
  };
  const consult = button("phone-consult", "phone.consult", "Alt+C", place);
  const complete = button("phone-complete", "phone.complete_transfer", "Alt+X", () => {
    const current = call();
    if (current && session && state === "talking") current.refer(session.remote_identity.uri.toString(), { replaces: session });
  });
  const conference = button("phone-conference", "phone.conference", "Alt+J", join);
  const end = button("phone-consult-end", "phone.consult_end", undefined, () => session?.terminate());
  const keys = { c: consult, x: complete, j: conference };
  // one of the others left: the agent talks on with the third
  const offEvents = events?.on((e) => {
    if (e.type !== "call.conference_ended" || state !== "conference" || !joined || e.call_id !== joined.call_id) return;
    if (e.data.reason !== "party_left") return;
    state = "idle";
    note = t(e.leg_id === joined.joined_leg_id ? "phone.conference_left_consulted" : "phone.conference_left_caller", { number });
    joined = null;
    draw();
  });
  const element = h("div", { class: "actions consult" }, consult, complete, conference, end, label, error, audio);

  return {
    element,
    keys,
    // the softphone's call is live (talking) or not
    refresh(isLive) {
      live = isLive;
      if (!isLive && state === "conference") { state = "idle"; note = ""; joined = null; }
      draw();
    },
    stop() { offEvents?.(); },
    // The caller's call ended during a talking consultation: hand the consultation to the softphone as its
    // call (null when there is none), with its audio element.
    takeOver() {
      if (!session || state !== "talking") return null;
      const taken = { session, number, audio };
      session = null;
      state = "idle";
      note = t("phone.consult_taken_over", { number });
      draw();
      return taken;
    },
  };
}
