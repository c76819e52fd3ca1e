"""What every layer of the suite shares, and so the one package below all of them: ``benchmarks`` and ``sandbox``
may not import ``prime_eval`` or ``prime_train`` (tests/test_layering.py), yet their errors must reach the same
one-line handler as everyone else's. It imports only the standard library and PyYAML, never another prime package.
"""
