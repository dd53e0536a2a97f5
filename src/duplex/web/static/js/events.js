// The live event stream: one WebSocket to /api/v1/events shared by every view. It remembers the id of the
// last event it delivered; after a drop it reconnects (with backoff) with `?since=<that id>`, so the server
// replays what was missed before going live again and views never lose or repeat an event.
import { token } from "./api.js";

export class EventStream {
  constructor({ types = "" } = {}) {
    this.types = types;
    this.lastId = null;
    this.listeners = new Set();
    this.statusListeners = new Set();
    this.socket = null;
    this.retry = 0;
    this.stopped = true;
    this.status = "closed";
  }

  start(since = null) {
    this.stopped = false;
    if (since !== null) this.lastId = since;
    this.connect();
  }

  stop() {
    this.stopped = true;
    if (this.socket) this.socket.close(1000);
    this.socket = null;
    this.setStatus("closed");
  }

  on(listener) { this.listeners.add(listener); return () => this.listeners.delete(listener); }
  onStatus(listener) { this.statusListeners.add(listener); listener(this.status); return () => this.statusListeners.delete(listener); }

  setStatus(status) {
    this.status = status;
    for (const listener of this.statusListeners) listener(status);
  }

  url() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ token: token() || "" });
    if (this.types) params.set("types", this.types);
    if (this.lastId !== null) params.set("since", String(this.lastId));
    return `${proto}://${location.host}/api/v1/events?${params}`;
  }

  connect() {
    this.setStatus(this.lastId === null ? "connecting" : "resyncing");
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onmessage = (message) => {
      const envelope = JSON.parse(message.data);
      if (envelope.type === "ready") {
        this.retry = 0;
        if (this.lastId === null) this.lastId = envelope.last_id;
        this.setStatus("live");
        return;
      }
      if (!envelope.type.includes(".")) return; // ping and other control frames
      if (this.lastId !== null && envelope.id <= this.lastId) return;
      this.lastId = envelope.id;
      for (const listener of this.listeners) listener(envelope);
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped || close.code === 4401) {
        this.setStatus(close.code === 4401 ? "unauthorized" : "closed");
        return;
      }
      this.setStatus("reconnecting");
      const delay = Math.min(10000, 250 * 2 ** this.retry++);
      setTimeout(() => { if (!this.stopped) this.connect(); }, delay);
    };
  }

  // For tests and diagnostics: drop the connection as a network failure would.
  drop() { if (this.socket) this.socket.close(4000, "dropped"); }
}
