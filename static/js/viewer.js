// The read-only viewer page: follows one run's stream, cannot change it.

import { RunView } from "./run-view.js";

const root = document.getElementById("viewer-root");
const view = new RunView(root, { readOnly: true });
// The page's stream address carries the run's viewing key (ide/web/pages.py), and the
// page when the link expires (seconds from now, "" when it never does).
const left = root.dataset.linkExpiresIn;
const viewerLink = { viewer_url: location.href, viewer_expires_in: left === "" ? null : Number(left) };
view.start({ id: root.dataset.runId, viewerLink, streamUrl: root.dataset.streamUrl, drawCharts: true });
