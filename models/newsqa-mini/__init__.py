"""newsqa-mini's weights, installed as the package ``newsqa.bundled_model``.

pyproject.toml maps this folder to ``newsqa.bundled_model``; this file makes it a regular package,
so ``importlib.resources.files("newsqa.bundled_model")`` is the folder itself in a wheel, an sdist
build and an editable install alike (a data-only folder is a namespace package, which
``importlib.resources`` does not resolve to one folder). Not code: ``models/train.py`` keeps this
file when it exports new weights here.
"""
