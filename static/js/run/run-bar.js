// The run bar: the state pill, the clock, the progress of a timed run, the Stop button.

import { formatClock } from "./format.js";

export const TERMINAL = new Set(["finished", "stopped", "failed"]);
export const STATE_LABEL = {
  starting: "Starting",
  running: "Running",
  finished: "Finished",
  stopped: "Stopped",
  failed: "Failed",
};

export function stateLabel(state) {
  return STATE_LABEL[state] || state;
}

export class RunBar {
  constructor({ state, progress, clock, stop }) {
    this.pill = state;
    this.progress = progress;
    this.clock = clock;
    this.stopButton = stop; // absent on the read-only viewer page
    this.reset();
  }

  reset() {
    this.state = null;
    this.elapsed = 0;
    this.elapsedAt = performance.now();
    this.duration = 0;
    this.setLabel("idle", "No run");
    this.clock.textContent = "0:00";
    this.progress.hidden = true;
    if (this.stopButton) this.stopButton.disabled = true;
  }

  /** A state message or a Run: its state, elapsed seconds and duration. */
  update(state, { elapsed, duration }, stoppable) {
    this.state = state;
    if (typeof elapsed === "number") {
      this.elapsed = elapsed;
      this.elapsedAt = performance.now();
    }
    if (typeof duration === "number") this.duration = duration;
    this.setLabel(state, stateLabel(state));
    if (this.stopButton) this.setStoppable(stoppable && !TERMINAL.has(state));
    this.tick();
  }

  /** A disabled button loses the focus to the page: a keyboard user who was on Stop when
   * the run ended goes on from the next control (Edit script). */
  setStoppable(on) {
    const b = this.stopButton;
    const had = !on && document.activeElement === b;
    b.disabled = !on;
    if (!had) return;
    let next = b.nextElementSibling;
    while (next && (next.disabled || next.hidden || next.tagName !== "BUTTON")) next = next.nextElementSibling;
    next?.focus({ preventScroll: true });
  }

  /** A snapshot taken `t` seconds into the run: the clock never shows less. */
  reached(t) {
    if (TERMINAL.has(this.state) || t <= this.currentElapsed()) return;
    // Read now: the clock runs on from here, not from when `elapsed` was last set.
    this.elapsed = t;
    this.elapsedAt = performance.now();
  }

  currentElapsed() {
    if (this.state === "running") return this.elapsed + (performance.now() - this.elapsedAt) / 1000;
    return this.elapsed;
  }

  tick() {
    const elapsed = this.currentElapsed();
    if (this.duration > 0) {
      const shown = Math.min(elapsed, this.duration);
      const fraction = this.state === "finished" ? 1 : Math.min(1, shown / this.duration);
      const bar = this.progress.firstElementChild;
      if (TERMINAL.has(this.state)) bar.style.transition = "none";
      this.progress.hidden = false;
      bar.style.width = (fraction * 100).toFixed(1) + "%";
      this.progress.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
      this.clock.textContent = `${formatClock(shown)} / ${formatClock(this.duration)}`;
    } else {
      this.progress.hidden = true;
      this.clock.textContent = formatClock(elapsed) + (this.state === "running" ? " · continuous" : "");
    }
  }

  setLabel(state, label) {
    this.pill.textContent = label;
    this.pill.className = "pill pill-" + state;
  }

  stopping() {
    this.setStoppable(false);
    this.setLabel("stopping", "Stopping…");
  }

  stopFailed() {
    this.stopButton.disabled = false;
    this.setLabel(this.state, stateLabel(this.state));
  }
}
