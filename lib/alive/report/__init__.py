"""What a person or a tool sees: the report view, its words (report/words.py, shared by
the renderers so they never import report back), html, markdown and text renderings, the
Prometheus export and badges. Imports every layer below it (up to correct, for triggers).
"""
