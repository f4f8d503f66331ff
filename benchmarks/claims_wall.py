"""Wall time of the whole ``pytest claims/`` at cpu scale: cold (empty run cache), warm (same
cache), and warm with ``-n 2``. Prints the three times side by side."""
import subprocess
import sys
import tempfile
import time


def wall(args, cache):
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "claims/", "-q", "--run-cache", cache,
                    "--report-dir", f"{cache}/report", *args], check=False)
    return time.perf_counter() - t


with tempfile.TemporaryDirectory() as cache:
    cold = wall([], cache)
    warm = wall([], cache)
    warm2 = wall(["-n", "2"], cache)
print(f"pytest claims/: cold {cold:.0f} s, warm {warm:.1f} s, warm -n 2 {warm2:.1f} s")
