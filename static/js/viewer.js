// The read-only viewer page: follows one run's stream, cannot change it.

import { RunView } from "./run-view.js";

const root = document.getElementById("viewer-root");
const view = new RunView(root, { readOnly: true });
// The page's stream address carries the run's viewing key (ide/web/pages.py).
view.start({ id: root.dataset.runId, viewerUrl: location.href, streamUrl: root.dataset.streamUrl, drawCharts: true });
