"""Traced text in a plotly figure, shown exactly as it was traced.

plotly.js reads a subset of HTML in every string it draws as SVG: trace names and legends,
pie and icicle labels, hover text, tick labels, titles and annotations.  ``<br>``, ``<b>``,
``<i>``, ``<em>``, ``<s>``, ``<u>``, ``<sup>``, ``<sub>``, ``<span style>`` and
``<a href>`` become markup, and entities (``&amp;``, ``&lt;``, ``&#60;``...) are decoded
once.  Keys come from traced programs (any local user picks a file or process name), so a
key ``<a href="http://...">`` would be a live link in the chart and ``<b style=...>`` could
cover the page; C++ frames such as ``vector<int>::push_back`` would lose their text.

3D scenes draw their tick labels in WebGL (vectorize-text), which reads ``<b>``, ``<i>``,
``<sup>``, ``<sub>`` and ``<br>`` but decodes no entities: there an invisible word joiner
(U+2060) after each ``<`` keeps a tag from being one.

What plotly does with the rest, checked in Chromium with the plotly.js this package ships
(tests/browser/test_wizard.py keeps checking it):

- newlines (``\\n``, ``\\r``, ``\\r\\n``) are drawn as a space in SVG text and left out in
  WebGL text, so they are left alone here;
- ``%{...}`` in a hover template is filled in one pass, and a value put in is never read as
  a template again, so a key ``%{x}`` shows as ``%{x}``.  Templates here are constants;
  traced text only ever goes into the values they show.
- ``$...$`` is typeset as TeX only when MathJax is on the page and the plot's
  ``typesetMath`` is on; the page loads no MathJax and turns ``typesetMath`` off
  (static/js/run-view.js).

Tables are not plotly: the page puts their cells in as text, so they need (and get) no
escaping.
"""

from __future__ import annotations

WORD_JOINER = "\u2060"


def plotly_text(text: str, *, webgl: bool = False) -> str:
    """``text`` as plotly must be given it to draw it literally.

    ``webgl`` for the text of a 3D scene's axes (tick labels), which plotly draws in WebGL;
    everything else plotly draws in SVG.
    """
    if webgl:
        return text.replace("<", "<" + WORD_JOINER)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
