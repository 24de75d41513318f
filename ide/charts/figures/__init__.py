"""One module per kind of figure; each takes a ranked ``View`` and returns plotly dicts."""
