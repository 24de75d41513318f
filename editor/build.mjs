// Bundles src/editor.js and its CodeMirror dependencies into one minified ES module,
// static/vendor/editor.js, which ships inside the wheel (the target machine has no node).
//
//   cd editor && npm ci && npm run build            # writes ../static/vendor/editor.js
//   node build.mjs --outfile /tmp/x/editor.js       # writes elsewhere (the bundle test)
//   EDITOR_DEBUG=1 node build.mjs                   # unminified, for profiling; never commit it
//
// The output depends only on the sources and the pinned packages, so rebuilding gives the
// same bytes; tests/unit/test_editor_bundle.py checks that the committed bundle is current.

import { build } from "esbuild";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const at = args.indexOf("--outfile");
const outfile = at >= 0 ? resolve(args[at + 1]) : resolve(here, "../static/vendor/editor.js");

await build({
  absWorkingDir: here,
  entryPoints: ["src/editor.js"],
  outfile,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  minify: !process.env.EDITOR_DEBUG,
  sourcemap: false,
  charset: "utf8",
  legalComments: "eof",
  banner: {
    js: "// dtrace-ide script editor (CodeMirror 6, MIT). Built from editor/ by `cd editor && npm ci && npm run build`; do not edit.",
  },
  logLevel: "warning",
});
