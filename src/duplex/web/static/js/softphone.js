import { api } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { createConsult } from "./consult.js";
import { createDialBox } from "./dialbox.js";
import { typing } from "./shortcuts.js";

// The browser SIP library, bundled at build time into /static/vendor/duplex-vendor.js (npm ci && npm run
// build). Without the bundle (npm missing) the console still works; only the softphone is unavailable.
let loading = null;

export function loadSipLibrary() {
  if (!loading) {
    loading = import("/static/vendor/duplex-vendor.js")
      .then((vendor) => ({ ok: true, JsSIP: vendor.JsSIP, version: vendor.vendorVersions.jssip }))
      .catch(() => ({ ok: false, JsSIP: null, version: null }));
  }
  return loading;
}

// The agent's softphone: JsSIP registers the agent's own SIP account (GET /softphone) over SIP/WebSocket,
// and its calls carry WebRTC audio (the server bridges it to the SIP/RTP call). Closing the page closes the
// WebSocket flow, which the server handles like a phone that vanished.

const DTMF_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

// `autoAnswer(request)`: true answers an incoming call at once (a monitor call the supervisor asked for);
// `dial`: a dial box for calls from the browser and the consultation (the agent desktop's); `events`: the live
// event stream (who left a conference).
export function createSoftphone(JsSIP, { autoAnswer = () => false, dial = false, events = null } = {}) {
  let ua = null;
  let call = null;
  let registered = false;
  const media = { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } };
  const dialBox = dial ? createDialBox((number) => { if (ua && !call) ua.call(number, media); }) : null;
  let muted = false;
  let held = false;
  const audio = h("audio", { id: "softphone-audio", autoplay: true });
  const status = h("p", { id: "softphone-registration", "aria-live": "polite" }, t("phone.registering"));
  const info = h("dl", { id: "softphone-call", class: "call-info", "aria-live": "polite" });
  const error = h("p", { id: "softphone-error", class: "field-error", role: "alert" });
  const button = (id, key, shortcut, onclick) =>
    h("button", { type: "button", id, "aria-keyshortcuts": shortcut, disabled: true, onclick }, t(key));
  const answer = button("phone-answer", "phone.answer", "Alt+Enter", () => call?.answer(media));
  const hangup = button("phone-hangup", "phone.hangup", "Alt+H", () => call?.terminate());
  const hold = button("phone-hold", "phone.hold", "Alt+L", () => {
    if (!call) return;
    if (held) call.unhold(); else call.hold();
  });
  const mute = button("phone-mute", "phone.mute", "Alt+M", () => {
    if (!call) return;
    if (muted) call.unmute({ audio: true }); else call.mute({ audio: true });
  });
  const target = h("input", { id: "transfer-target", maxlength: 64, inputmode: "tel" });
  const transfer = button("phone-transfer", "phone.transfer", "Alt+T", () => {
    if (call && target.value.trim()) call.refer(target.value.trim());
  });
  const consult = dial ? createConsult({ ua: () => ua, call: () => call, callId: () => info.dataset.callId || "",
    target, media, offerResume: () => hold.focus(), events }) : null;
  const pad = h("div", { class: "dtmf-pad", role: "group", "aria-label": t("phone.dtmf") },
    ...DTMF_KEYS.map((d) => h("button", { type: "button", class: "secondary", "data-digit": d, disabled: true,
      onclick: () => call?.sendDTMF(d) }, d)));

  const show = (state) => {
    const incoming = state === "ringing";
    const live = state === "talking";
    answer.disabled = !incoming;
    hangup.disabled = !(incoming || live || state === "calling");
    dialBox?.enable(registered && state === "idle");
    consult?.refresh(live);
    for (const b of [hold, mute, transfer, ...pad.querySelectorAll("button")]) b.disabled = !live;
    hold.textContent = t(held ? "phone.resume" : "phone.hold");
    mute.textContent = t(muted ? "phone.unmute" : "phone.mute");
    info.dataset.state = state;
    // every call state (ringing, talking, idle) with the call's X-Duplex-Call-Id, for the screen pop
    document.dispatchEvent(new CustomEvent("duplex:call", { detail: { state, callId: info.dataset.callId || "" } }));
  };
  const describe = (request) => {
    const from = request.from;
    const rows = [
      [t("phone.caller"), from.display_name ? `${from.display_name} <${from.uri.user}>` : from.uri.user],
      [t("phone.called"), request.getHeader("X-Duplex-Called") || ""],
      [t("phone.source"), request.getHeader("X-Duplex-Tracking-Source") || t("phone.no_source")],
    ];
    info.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    info.dataset.callId = request.getHeader("X-Duplex-Call-Id") || "";
  };
  const onSession = ({ originator, session, request }) => {
    if (call && originator === "local") return;  // the consultation of an attended transfer (consult.js)
    if (call) { session.terminate({ status_code: 486 }); return; }  // one call at a time
    call = session;
    muted = false;
    held = false;
    error.textContent = "";
    if (originator === "remote") describe(request);
    else {  // placed from the dial box: Duplex tells the call's id in its 18x and 200 (X-Duplex-Call-Id)
      info.replaceChildren(h("dt", {}, t("phone.called")), h("dd", {}, session.remote_identity.uri.user));
      info.dataset.callId = "";
      const learn = ({ response }) => { info.dataset.callId ||= response?.getHeader("X-Duplex-Call-Id") || ""; };
      session.on("progress", (e) => { learn(e); if (call === session && info.dataset.callId) show("calling"); });
      session.on("accepted", learn);  // before the handler below shows the call as talking
    }
    show(originator === "remote" ? "ringing" : "calling");
    // a campaign connects a person who already answered: it asks for an automatic answer (answer-after=0)
    if (originator === "remote" && /answer-after=0\b/.test(request.getHeader("Call-Info") || "")) answer.click();
    const play = (pc) => pc.addEventListener("track", (e) => { audio.srcObject = e.streams[0] || new MediaStream([e.track]); });
    // a call we place has its peer connection already (JsSIP made it before telling us of the session)
    if (session.connection) play(session.connection); else session.on("peerconnection", ({ peerconnection }) => play(peerconnection));
    for (const name of ["peerconnection:setremotedescriptionfailed", "peerconnection:createanswerfailed", "peerconnection:setlocaldescriptionfailed", "getusermediafailed"]) {
      session.on(name, (err) => console.warn(name, String(err)));
    }
    session.on("accepted", () => show("talking"));
    session.on("confirmed", () => {
      window.duplexPeerConnection = session.connection;  // read by tests and diagnostics (getStats)
      show("talking");
    });
    follow(session, originator);
    if (originator === "remote" && autoAnswer(request)) answer.click();
  };
  // The call's hold, mute and end. When the caller's call ends during a consultation, the consultation
  // becomes the softphone's call (hang up, hold and the keypad work on it; no second call rings in meanwhile).
  function follow(session, originator, consultAudio = null) {
    session.on("muted", () => { muted = true; show("talking"); });
    session.on("unmuted", () => { muted = false; show("talking"); });
    session.on("hold", () => { held = true; show("talking"); });
    session.on("unhold", () => { held = false; show("talking"); });
    const end = () => {
      if (call !== session) return;
      call = null;
      audio.srcObject = null;
      if (consultAudio) consultAudio.srcObject = null;
      show("idle");
      const taken = consult?.takeOver();
      if (taken) adopt(taken);
    };
    session.on("ended", end);
    session.on("failed", (e) => {
      const refused = originator === "local" && e.originator !== "local";  // the number we dialled
      if ((e.originator === "local" && !["Rejected", "Canceled"].includes(e.cause)) || refused) error.textContent = t("phone.call_failed", { cause: e.cause });
      console.warn("call failed", e.originator, e.cause, e.message ? e.message.toString().slice(0, 300) : "");
      end();
    });
  }
  function adopt({ session, number, audio: consultAudio }) {
    call = session;
    muted = false;
    held = false;
    info.replaceChildren(h("dt", {}, t("phone.called")), h("dd", {}, number));
    info.dataset.callId = "";
    window.duplexPeerConnection = session.connection;
    follow(session, "local", consultAudio);
    show("talking");
  }
  const keys = (event) => {
    if (event.altKey) {
      const byKey = { Enter: answer, h: hangup, l: hold, m: mute, t: transfer, ...consult?.keys };
      const b = byKey[event.key];
      if (b && !b.disabled) { event.preventDefault(); b.click(); }
    } else if (call && DTMF_KEYS.includes(event.key) && !typing(document.activeElement)) {  // not a note's digits
      call.sendDTMF(event.key);
    }
  };

  const element = h("div", { id: "softphone" }, status, dialBox?.element, info,
    h("div", { class: "actions" }, answer, hangup, hold, mute), pad,
    h("div", { class: "field" }, h("label", { for: "transfer-target" }, t("phone.transfer_to")), target, transfer),
    consult?.element,
    h("p", { class: "hint" }, t("phone.shortcuts")), error, audio);

  async function start() {
    let cfg;
    try {
      cfg = await api("/softphone");
    } catch (err) {
      status.textContent = err.message;
      return;
    }
    if (cfg.ws_port == null) { status.textContent = t("phone.no_websocket"); return; }
    const socket = new JsSIP.WebSocketInterface(`${cfg.ws_scheme}://${location.hostname}:${cfg.ws_port}`);
    ua = new JsSIP.UA({ sockets: [socket], uri: `sip:${cfg.sip_username}@${cfg.domain}`, password: cfg.sip_password,
      register: true, session_timers: false, register_expires: 300 });
    ua.on("registered", () => { registered = true; dialBox?.enable(!call); status.textContent = t("phone.registered", { ext: cfg.extension }); status.dataset.state = "registered"; });
    ua.on("unregistered", () => { registered = false; dialBox?.enable(false); status.textContent = t("phone.unregistered"); status.dataset.state = "unregistered"; });
    ua.on("registrationFailed", (e) => { status.textContent = t("phone.failed", { cause: e.cause }); status.dataset.state = "failed"; });
    ua.on("newRTCSession", onSession);
    ua.start();
    document.addEventListener("keydown", keys);
    show("idle");
  }

  function stop() {
    consult?.stop();
    document.removeEventListener("keydown", keys);
    if (ua) { ua.stop(); ua = null; }
  }
  return { element, start, stop };
}
