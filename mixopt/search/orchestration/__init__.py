"""What the driver process runs: the checks before the first trial (:mod:`.preflight`), the
open study (:mod:`.session`), the loop that asks for proposals, hands jobs to an executor and
tells their outcomes (:mod:`.loop`, :mod:`.pruning`, :mod:`.confirm`, :mod:`.faults`), the
progress lines (:mod:`.progress`) and what a study returns (:mod:`.results`); :mod:`.study`
runs a study from start to end."""
