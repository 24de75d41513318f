// Test harness for tests/browser/test_editor.py and bench/bench_editor.py: mounts the
// bundled editor with callbacks that record what the editor asked for.
import { createEditor } from "/static/vendor/editor.js";
import { VOCABULARY } from "/static/js/vocabulary.js";

const harness = {
  editor: null,
  runs: [],
  saves: [],
  changes: 0,
  compileCalls: [],
  diagnostics: [],
  probeCalls: [],
  onChangeHook: null, // bench/bench_editor.py times keystrokes from here
  // Tests replace these to decide what the fake compiler and probe list answer.
  compileImpl: async () => ({ ok: true, diagnostics: [] }),
  probesImpl: async () => [],
  start(options = {}) {
    if (harness.editor) harness.editor.destroy();
    harness.editor = createEditor(document.getElementById("editor"), {
      vocabulary: VOCABULARY,
      compile: async (text, language) => {
        harness.compileCalls.push({ text, language });
        return harness.compileImpl(text, language);
      },
      probes: async (prefix, language) => {
        harness.probeCalls.push({ prefix, language });
        return harness.probesImpl(prefix, language);
      },
      onChange: (text) => {
        harness.changes += 1;
        if (harness.onChangeHook) harness.onChangeHook(text);
      },
      onDiagnostics: (result) => { harness.diagnostics.push(result); },
      onRun: (text) => { harness.runs.push(text); },
      onSave: (text) => { harness.saves.push(text); },
      ...options,
    });
    return true;
  },
};
window.harness = harness;
document.body.dataset.ready = "1";
