// The read-only viewer page: follows one run's stream, cannot change it.

import { RunView } from "./run-view.js";

const root = document.getElementById("viewer-root");
const view = new RunView(root, { readOnly: true });
// The page's URL carries the run's viewing key; the stream accepts the same key.
const streamUrl = root.dataset.streamUrl || `/api/runs/${encodeURIComponent(root.dataset.runId)}/stream${location.search}`;
view.start({ id: root.dataset.runId, viewerUrl: location.href, streamUrl, drawCharts: true });
