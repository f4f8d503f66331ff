"""Wall time of the whole ``pytest claims/`` at cpu scale: cold (empty run cache), then warm
(same cache), each in one process and with ``-n 2`` (xdist; each worker gets half the cores).
Prints the four times side by side. Takes about an hour on 2 cores."""

import subprocess
import sys
import tempfile
import time


def wall(args, cache):
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "claims/",
            "-q",
            "-p",
            "no:cacheprovider",
            "--run-cache",
            cache,
            "--report-dir",
            f"{cache}/report",
            *args,
        ],
        check=False,
    )
    return time.perf_counter() - t


times = {}
for label, args in (("", []), (" -n 2", ["-n", "2"])):
    with tempfile.TemporaryDirectory() as cache:
        times[f"cold{label}"] = wall(args, cache)
        times[f"warm{label}"] = wall(args, cache)
print("pytest claims/: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
