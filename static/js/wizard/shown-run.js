// The run the Output step shows, and how it ran.  "Run again" and "Edit script" act on that
// run: its duration, interval, tracer options and hosts go into the run form, and when it ran
// a script other than the editor's (a run opened from the Runs place, a drilldown, a run
// reattached after a reload) the script and its language go into the editor, the library
// asking first before unsaved changes there are lost.

/** `host`: {getScript(), getLanguage(), library() (the library sidebar, or null),
 * put(run) (its script and language into the editor), setOptions(options) (the run form)}. */
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
      options: {
        duration: run.duration,
        interval: run.interval,
        options: run.options || {},
        hosts: run.fleet && run.hosts ? Object.keys(run.hosts) : [], // none: this server
      },
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
    const r = this.run;
    if (!r) return true;
    if (!this.inEditor()) {
      const library = this.host.library();
      if (library && !library.confirmDiscard()) return false;
      this.host.put(r);
      library?.openDraft(r.title);
    }
    this.host.setOptions(r.options);
    return true;
  }
}
