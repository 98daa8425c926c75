"""newsqa-base's trained delta, installed as the package ``newsqa.base_delta``.

pyproject.toml maps this folder to ``newsqa.base_delta``; this file makes it a regular package,
so ``importlib.resources.files("newsqa.base_delta")`` is the folder itself in a wheel, an sdist
build and an editable install alike (``newsqa.base_model.delta_path`` reads it through
``newsqa.resources``, which extracts it when newsqa runs from a zip). Not code: ``save_delta`` in
``newsqa/base_model.py`` and ``receive`` in ``models/train_base.py`` keep this file when a new
delta replaces the weights here. Until a delta is committed the folder holds only its README, and
``--model newsqa-base`` says in one line that it is not trained.
"""
