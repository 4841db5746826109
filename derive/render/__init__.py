"""Rendering: question and solution sheets (jinja2 templates in templates/), computational graphs
(TikZ, SVG, dot), the class summary page and the sandboxed PDF build. Notation is derive/notation/.

Modules: sheet (a problem's context), header (page header and what a sheet shows), cached (contexts
kept on disk), page (the template filled, the file written), typeset (line breaks, numbers, operator
labels), graph and svg (layout and drawing), roster, allowed_tex, fonts, pdf, templates, commands."""
