// The run the Output step shows and the script it ran.  A run opened from the Runs place, a
// drilldown, or a run reattached after a reload ran a script other than the editor's, so
// "Run again" and "Edit script" first take that script (its language and run options too)
// into the editor; the library asks before unsaved changes there are lost.

/** `host`: {getScript(), getLanguage(), library() (the library sidebar, or null), put(run)
 * (the run's script, language and options into the editor and the run form)}. */
export class ShownRun {
  /** `box`: where the run bar names the script (its language and first line of code). */
  constructor(box, languageName, host) {
    this.box = box;
    this.languageName = languageName;
    this.host = host;
    this.run = null;
  }

  /** The Output step now shows `run` (a Run as the API gives it, `script` its script). */
  show(run, script = run.script) {
    if (typeof script !== "string") return; // a body without its script: keep the last one
    this.run = {
      script,
      language: run.language,
      title: run.title || "",
      options: { duration: run.duration, interval: run.interval, options: run.options || {} },
    };
    const line = script.split("\n").map((l) => l.trim()).find((l) => l && !/^(\/\/|\/\*|\*|#)/.test(l)) || "";
    this.box.textContent = `${this.languageName[run.language]} · ${line.length > 80 ? line.slice(0, 79) + "…" : line}`;
    this.box.title = script;
    this.box.hidden = false;
  }

  /** Whether the editor holds what the shown run ran (true with nothing shown). */
  inEditor() {
    const r = this.run;
    return !r || (r.script === this.host.getScript() && r.language === this.host.getLanguage());
  }

  /** Put the shown run's script in the editor unless it is there; false when the user chose to
   * keep the editor's unsaved changes. */
  take() {
    if (this.inEditor()) return true;
    const library = this.host.library();
    if (library && !library.confirmDiscard()) return false;
    this.host.put(this.run);
    library?.openDraft(this.run.title);
    return true;
  }
}
