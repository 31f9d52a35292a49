"""What the tests (and the benchmarks that measure the machinery) start or run in place of a
real part: the servers a study at scale talks to (:mod:`tests.support.services`) and trial
runners that stand in for a real trial (:mod:`tests.support.runners`). Not shipped: a
plug-in author's helpers are in :mod:`mixopt.testing`."""
