"""The project's tests (a regular package: textstat 0.7.8 installs a top-level `tests` package of
its own into site-packages, which would otherwise shadow this one)."""
