// Pausing the live view: the tracer keeps running and the messages keep coming, but the
// charts and the console hold still (the newest snapshot and the output are kept) until
// the user resumes, or the run ends.

const MAX_HELD_LINES = 5000;

export class LivePause {
  /** button: the Pause/Resume toggle; note: where "paused" is said; resume(held) applies. */
  constructor(button, note, resume) {
    this.button = button;
    this.note = note;
    this.resume = resume;
    button.addEventListener("click", () => (this.paused ? this.play() : this.pause()));
    this.reset();
  }

  reset() {
    this.paused = false;
    this.snapshot = null;
    this.lines = [];
    this.dropped = 0;
    this.skipped = 0;
    this.show();
  }

  pause() {
    this.paused = true;
    this.show();
  }

  /** Show what came meanwhile: the newest snapshot, then the held output. */
  play() {
    if (!this.paused) return;
    const held = { snapshot: this.snapshot, lines: this.lines, dropped: this.dropped };
    this.reset();
    this.resume(held);
  }

  /** A message while paused is kept, not shown: true when it was. */
  hold(msg) {
    if (!this.paused) return false;
    if (msg.type === "snapshot") {
      if (this.snapshot) this.skipped += 1;
      this.snapshot = msg;
    } else if (msg.type === "output") {
      this.lines.push(...msg.lines);
      if (this.lines.length > MAX_HELD_LINES) this.lines.splice(0, this.lines.length - MAX_HELD_LINES);
      this.dropped = Math.max(this.dropped, msg.dropped || 0);
    } else {
      return false;
    }
    this.show();
    return true;
  }

  show() {
    this.button.textContent = this.paused ? "Resume view" : "Pause view";
    this.button.setAttribute("aria-pressed", String(this.paused));
    this.button.title = this.paused
      ? "Show the newest data again"
      : "Hold the charts and console still; the tracer keeps running";
    this.note.hidden = !this.paused;
    // The note takes the place of the script's first line in the run bar while paused.
    this.note.parentElement.classList.toggle("paused", this.paused);
    if (!this.paused) return;
    const lines = this.lines.length ? `, ${this.lines.length.toLocaleString("en-US")} lines` : "";
    this.note.textContent = this.snapshot ? `Paused · new data${lines}` : "Paused";
    this.note.title = "The tracer keeps running; Resume view shows the newest data";
  }
}
