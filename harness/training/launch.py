"""``--launcher submitit``: the runs a session is missing are trained as jobs of a cluster
(SLURM through submitit, or submitit's local executor), one job a trajectory, while the
session waits and then judges as it does with local training.

Each job trains one trajectory to the last step the session asks of it through the same
``RunCache._train`` a local session uses, on a run cache the jobs share (a filesystem every
node mounts). The session holds each run's file lock while its job runs, so the scheduler is
the only writer of a run and no lock is taken on the shared filesystem by the jobs (a job decodes
its data from the data root itself, the session having checked it is there). The jobs are
submitted as one job array (``executor.batch()``). A job that the scheduler preempts or times out
is requeued by submitit (``helpers.Checkpointable``; up to submitit's ``max_num_timeout`` times
for time-outs) and continues from its run's last published checkpoint,
as a killed local run does. An interrupted session cancels its jobs. A job's error is returned to
the session and raised where the claim reads the run, as a local training error is: a missing
dataset still skips the claim, anything else is that claim's ERROR.
"""

from __future__ import annotations

import time
from pathlib import Path

try:  # the cluster extra (pip install 'firstlayer[cluster]'); Submitit says so when it is missing
    from submitit.helpers import Checkpointable
except ImportError:
    Checkpointable = object

from harness.data.door import Datasets
from harness.training.cache import RunCache
from harness.training.spec import RunSpec


def train_job(
    root: str, data_root: str, device: str, spec: dict, stops: list[int], threads: int, every: int, decoded=None
) -> dict:
    """One job: train ``spec``'s trajectory to ``max(stops)`` in the shared cache at ``root``.
    The error of a failed training is returned, not raised, so its type reaches the caller.
    ``decoded``: a folder for the decode cache where the jobs share one machine (``fill``);
    None (a cluster's jobs) decodes in the job, taking no lock on a shared filesystem."""
    import torch

    torch.set_num_threads(threads)
    device = "cuda" if device.startswith("cuda") else device  # the job's own GPU
    cache = RunCache(root, Datasets(data_root, decoded), device, checkpoint_every=every)
    run = RunSpec.from_json(spec)
    try:
        cache._train(run, set(stops))
    except Exception as exc:  # handed back whole to the session (harness.training.cache.RunCache.prefill)
        return {"error": exc}
    return {"trained": cache.trained}


class TrainJob(Checkpointable):
    """The job's callable. submitit's ``Checkpointable`` requeues it on preemption or time-out
    with the same arguments, and training continues from the run's last published checkpoint."""

    def __call__(self, *args) -> dict:
        return train_job(*args)


class Submitit:
    """Trains runs as submitit jobs: ``cluster`` 'auto' (SLURM where there is one), 'slurm' or
    'local' (subprocesses of this machine: the same pickling path, for tests and one host)."""

    def __init__(self, folder: Path, cluster: str = "auto", threads: int = 1, poll_s: float = 2.0, say=print, **params):
        try:
            import submitit
        except ImportError:
            raise RuntimeError(
                "--launcher submitit: submitit is not installed (pip install 'firstlayer[cluster]')"
            ) from None
        self.threads, self.poll_s, self.say = threads, poll_s, say
        self.executor = submitit.AutoExecutor(folder=str(folder), cluster=None if cluster == "auto" else cluster)
        self.executor.update_parameters(**{k: v for k, v in params.items() if v is not None})

    def train(self, cache: RunCache, work: list[tuple[RunSpec, list[int]]]) -> dict[str, dict]:
        """Submit one job for each (spec, stops), wait for all, and return {key: the job's result,
        or {'error': exception}}."""
        jobs: list = []
        try:
            return self._wait(cache, work, jobs)
        except BaseException:  # a failed submission or an interrupt: no job is left writing a run
            for _, job in jobs:
                if not job.done():
                    job.cancel(check=False)
            raise

    def _wait(self, cache: RunCache, work, jobs: list) -> dict[str, dict]:
        with self.executor.batch():  # one job array (SLURM), submitted at once
            for spec, stops in work:
                args = (str(cache.root), str(cache.datasets.root), cache.device, spec.to_json(), sorted(stops))
                jobs.append((spec, self.executor.submit(TrainJob(), *args, self.threads, cache.checkpoint_every)))
        for spec, job in jobs:
            self.say(f"submitit: job {job.job_id} trains {spec.label()} to step {max(dict(work)[spec])}")
        out: dict[str, dict] = {}
        while len(out) < len(jobs):
            for spec, job in jobs:
                if spec.key in out or not job.done():
                    continue
                try:
                    out[spec.key] = job.result()
                except Exception as exc:  # a job that died (killed, out of memory, ...)
                    last = str(exc).strip().splitlines()[-1:] or ["no output"]
                    out[spec.key] = {"error": RuntimeError(f"{spec.label()}: job {job.job_id} failed: {last[0]}")}
                self.say(f"submitit: {len(out)} of {len(jobs)} jobs done ({spec.label()}: "
                         f"{'failed' if 'error' in out[spec.key] else 'trained'})")  # fmt: skip
            if len(out) < len(jobs):
                time.sleep(self.poll_s)
        return out
