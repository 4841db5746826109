"""Rendering: question and solution sheets (jinja2 templates in templates/), computational graphs
(TikZ, SVG, dot), the class summary page and the sandboxed PDF build. Notation is derive/notation/."""
