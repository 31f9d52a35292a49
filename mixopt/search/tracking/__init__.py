"""MLflow tracking: the study's parent run and one child run per trial (:mod:`.tracker`), and
the empty SQLite store a new study's tracking starts from (:mod:`.template`)."""
