// The editor's text kept across reloads, written a moment after typing stops.

const DRAFT_KEY = "dtrace-ide.draft";
const DRAFT_DELAY_MS = 300;

export class Drafts {
  /** `read()` gives {language, script} to keep, or null before the editor is mounted. */
  constructor(read) {
    this.read = read;
    this.timer = null;
    // A reload or a closed tab right after typing must not lose the last keystrokes.
    window.addEventListener("pagehide", () => {
      if (this.timer !== null) this.write();
    });
  }

  saveSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.write(), DRAFT_DELAY_MS);
  }

  write() {
    clearTimeout(this.timer);
    this.timer = null;
    const draft = this.read();
    if (!draft) return;
    try {
      localStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
    } catch {
      /* private mode or full storage: drafts are a convenience */
    }
  }

  /** The kept draft when it is one of `languages`, else null. */
  load(languages) {
    try {
      const d = JSON.parse(localStorage.getItem(DRAFT_KEY) || "null");
      if (d && typeof d.script === "string" && languages[d.language]) return d;
    } catch {
      /* ignore a damaged draft */
    }
    return null;
  }
}
