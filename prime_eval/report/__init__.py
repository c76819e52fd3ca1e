"""``prime-eval report``: leaderboards of runs beside published scores, run comparisons, and a static HTML page.

Modules, in data order: ``runs`` (the typed records), ``load`` (harness and training-run folders) and ``lm_eval``
(lm-evaluation-harness results files) -> ``references`` (published score sets) -> ``table`` (leaderboard and
settings flags) and ``compare`` (paired tests, on ``stats``) -> ``plots`` -> ``render_md`` / ``render_json`` /
``render_html`` -> ``cli``.
"""
