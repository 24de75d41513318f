// The time scrubber under the run bar: drag back to any moment of the run (live or ended),
// play it at 1×, 4× or 16×, and return to Live.  It asks the stream for moments with
// {"type": "seek", "t"} and {"type": "live"} (docs/protocol.md); one seek is in flight at a
// time, the newest position wins, so dragging fast costs a few answers, not one per pixel.

import { formatClock } from "./format.js";

const PLAY_TICK_MS = 250;

/** "0:12.5": a run's moments are interval apart, often less than a second. */
function moment(t) {
  return `${formatClock(t)}.${Math.floor((t % 1) * 10)}`;
}

export class Scrubber {
  /**
   * @param els.box the scrubber row; els.range the slider; els.time the "0:12 / 0:30" text;
   *   els.play the Play/Pause button; els.speed the speed select; els.live the Live button
   * @param send(msg) sends a message over the run's stream
   * @param ended() true once the run has ended
   */
  constructor(els, send, ended) {
    this.els = els;
    this.send = send;
    this.ended = ended;
    els.range.addEventListener("input", () => this.seek(Number(els.range.value)));
    els.range.addEventListener("keydown", (ev) => this.key(ev));
    els.play.addEventListener("click", () => (this.timer ? this.stopPlaying() : this.play()));
    els.live.addEventListener("click", () => this.goLive());
    this.reset();
  }

  reset() {
    this.stopPlaying();
    this.interval = 1; // learnt from the live snapshots' times
    this.end = 0;
    this.t = null; // the moment shown, or null when live
    this.inFlight = false;
    this.wanted = null;
    this.sent = null;
    this.disabledReason = "";
    this.els.box.hidden = true;
    this.show();
  }

  get replaying() {
    return this.t !== null;
  }

  /** A live snapshot at `t`: the run is this long now. */
  reached(t) {
    if (this.end > 0 && t > this.end) this.interval = t - this.end;
    this.end = Math.max(this.end, t);
    if (!this.disabledReason) this.els.box.hidden = this.end <= 0;
    this.show();
  }

  /** Arrows step one interval of the run, Page keys ten, Home and End go to the ends. */
  key(ev) {
    const at = this.replaying ? this.t : this.end;
    const step = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -10, PageUp: 10 }[ev.key];
    if (step !== undefined) this.seek(at + step * this.interval);
    else if (ev.key === "Home") this.seek(0);
    else if (ev.key === "End") this.goLive();
    else return;
    ev.preventDefault();
  }

  /** Show moment `t` (seconds since the run attached). */
  seek(t) {
    if (this.disabledReason) return;
    this.t = Math.max(0, Math.min(t, this.end));
    this.wanted = this.t;
    this.flush();
    this.show();
  }

  flush() {
    if (this.inFlight || this.wanted === null) return;
    this.inFlight = true;
    this.sent = this.wanted;
    this.send({ type: "seek", t: this.wanted });
    this.wanted = null;
  }

  /** The stream answered a seek: true when it is the answer to show.  A quick answer
   * (`partial`) frees the way for the next seek; its full answer may follow. */
  answered(msg) {
    if (msg.t !== this.sent) return false; // the full answer to a moment left behind
    if (typeof msg.end === "number") this.end = Math.max(this.end, msg.end);
    if (this.inFlight) {
      this.inFlight = false;
      this.flush();
    }
    this.show();
    return this.replaying;
  }

  /** Back to the run as it is now (an ended run: as it ended). */
  goLive() {
    this.stopPlaying();
    if (!this.replaying) return;
    this.t = null;
    this.wanted = null;
    this.send({ type: "live" });
    this.show();
  }

  play() {
    if (this.disabledReason) return;
    // Played from the start when asked at the end.
    if (!this.replaying || this.t >= this.end) this.seek(0);
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const next = this.t + ((now - last) / 1000) * Number(this.els.speed.value);
      last = now;
      if (next < this.end) {
        this.seek(next);
      } else if (this.ended()) {
        this.seek(this.end);
        this.stopPlaying();
      } else {
        this.goLive(); // caught up with the running tracer
      }
    }, PLAY_TICK_MS);
    this.show();
  }

  stopPlaying() {
    clearInterval(this.timer);
    this.timer = null;
    this.show();
  }

  /** Seeking cannot work here (the server records no runs): say so and hide the controls. */
  disable(reason) {
    this.stopPlaying();
    this.disabledReason = reason;
    this.t = null;
    this.els.box.hidden = true;
  }

  show() {
    const { range, time, play, live, box } = this.els;
    const at = this.replaying ? this.t : this.end;
    range.max = String(this.end);
    range.value = String(at);
    range.setAttribute("aria-valuetext", `${moment(at)} of ${moment(this.end)}`);
    time.textContent = `${moment(at)} / ${moment(this.end)}`;
    play.textContent = this.timer ? "Pause" : "Play";
    play.setAttribute("aria-pressed", String(Boolean(this.timer)));
    live.textContent = this.ended() ? "End" : "Live";
    live.disabled = !this.replaying;
    live.title = this.ended() ? "Show the run as it ended" : "Show the newest data again";
    box.classList.toggle("replaying", this.replaying);
  }
}
