// The websocket client of one run's live stream (docs/protocol.md): connects, hands each
// message on, and when the socket closes before the run ended asks the API how the run is,
// then reconnects.

import { api } from "../api.js";
import { TERMINAL } from "./run-bar.js";

const MAX_RECONNECTS = 10;

export class StreamClient {
  /**
   * @param view.onCannotOpen(err) the socket cannot even be created
   * @param view.onOpen(again) the socket opened (`again` after a reconnect)
   * @param view.onRaw(text) / view.onMessage(msg) each message, raw and parsed
   * @param view.onRun(run) the Run the API answered while recovering
   * @param view.onGone() the run no longer exists
   * @param view.onLost(final) the connection is lost (`final`: no more retries)
   * @param view.state() the state shown now
   */
  constructor(runId, streamUrl, view) {
    this.runId = runId;
    this.streamUrl = streamUrl;
    this.view = view;
    this.ws = null;
    this.reconnects = 0;
    this.closed = false;
  }

  /** The stream's address; `replay=1` keeps it open after the run ends, for scrubbing. */
  address() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const base = `${scheme}//${location.host}/api/runs/${encodeURIComponent(this.runId)}/stream`;
    const url = new URL(this.streamUrl || base, location.href.replace(/^http/, "ws"));
    url.searchParams.set("replay", "1");
    return url.href;
  }

  connect() {
    let ws;
    try {
      ws = new WebSocket(this.address());
    } catch (err) {
      this.view.onCannotOpen(err);
      return;
    }
    this.ws = ws;
    const again = this.reconnects > 0;
    ws.onopen = () => {
      this.reconnects = 0;
      this.view.onOpen(again);
    };
    ws.onmessage = (ev) => {
      if (this.closed) return;
      this.view.onRaw(ev.data);
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.view.onMessage(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.closed && !TERMINAL.has(this.view.state())) this.recover();
    };
  }

  close() {
    this.closed = true;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** The stream closed before the run ended: ask the API how it is, then reconnect. */
  async recover() {
    try {
      const run = await api("GET", `/api/runs/${encodeURIComponent(this.runId)}`);
      if (this.closed) return;
      this.view.onRun(run);
      if (TERMINAL.has(run.state)) return;
    } catch (err) {
      if (this.closed) return;
      if (err.status === 404) {
        this.view.onGone();
        return;
      }
    }
    this.reconnects += 1;
    if (this.reconnects > MAX_RECONNECTS) {
      this.view.onLost(true);
      return;
    }
    this.view.onLost(false);
    setTimeout(() => !this.closed && !this.ws && this.connect(), Math.min(500 * this.reconnects, 3000));
  }
}
