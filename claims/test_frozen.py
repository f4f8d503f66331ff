"""Fig. 2 / App. F: training VGGs with the first layer frozen at its random initialisation
costs (almost) nothing, so the learned profile is not needed to fit the training set. The
learned and frozen nets (independent inits, several seeds each) are compared on their
training curves at matched steps and on held-out images at the end."""

from __future__ import annotations

import numpy as np
import pytest

from harness.config.paper import paper
from harness.measures.figures import band, lines, series
from harness.plugin.state import SCALE, parametrize_across
from harness.verdicts import checks, stats

pytestmark = [pytest.mark.slow]


def pytest_generate_tests(metafunc):
    s = metafunc.config.stash[SCALE]
    if "model" in metafunc.fixturenames:
        metafunc.parametrize("model", s.frozen_models)
    parametrize_across(metafunc, "depths", s.frozen_models)  # the trend over depth


DEPTH = {"vgg11": "the shallow case (Fig. 2: 'for deep networks')", "vgg13": "deep", "vgg16": "deep", "vgg19": "deep"}


def frozen_runs(s, model):
    return {
        "learned": s.seeds(s.frozen_seeds, model=model),
        "frozen": s.seeds(s.frozen_seeds, model=model, frozen=True),
    }


def curves(runs, key, lag: float = 1.0):
    """(steps, seeds x steps) of a history column; with ``lag`` < 1, each run's value at
    ``lag`` x the step (interpolated): the same curve, behind in training."""
    steps = np.array([h["step"] for h in runs[0].history], float)
    at = [np.interp(steps * lag, [h["step"] for h in r.history], [h[key] for h in r.history]) for r in runs]
    return steps.astype(int).tolist(), np.array(at)


def figure(name, learned, frozen, key, ylabel, model):
    steps, a = curves(learned, key)
    _, b = curves(frozen, key)
    return lines(
        name,
        f"{model}: {ylabel}, learned vs frozen first layer (Fig. 2, {len(learned)} seeds)",
        [band("learned", a, x=steps), band("frozen", b, "dashed", x=steps)],
        xlabel="step",
        ylabel=ylabel,
    )


@pytest.mark.claim("frozen", runs=frozen_runs)
def test_frozen(trained, model, record, conclude):
    """Frozen - learned running train accuracy >= -2 points and loss <= 1.1 x learned, per
    seed, averaged over the matched logged steps of the second half of training."""
    learned, frozen = trained["learned"], trained["frozen"]
    for r in frozen:
        assert r.init.equal(r.final), f"{r.spec.label()}: the frozen first layer moved"
    cfg = paper("frozen")
    steps, acc_l = curves(learned, "train_acc")
    _, loss_l = curves(learned, "train_loss")
    late = np.asarray(steps) > cfg["compare_from"] * steps[-1]

    def judged(lag):
        """The check with the frozen curves read at ``lag`` x each step (1: as trained)."""
        _, acc_f = curves(frozen, "train_acc", lag)
        _, loss_f = curves(frozen, "train_loss", lag)
        gaps = stats.over_runs((acc_f - acc_l)[:, late].mean(1), noun="seeds")
        ratios = stats.over_runs((loss_f / loss_l)[:, late].mean(1), noun="seeds")
        return checks.frozen(gaps, ratios, cfg["max_acc_drop"], cfg["max_loss_ratio"])

    _, acc_f = curves(frozen, "train_acc")
    record(
        dataset=learned[0].spec.dataset,
        details={
            "depth": f"{model.upper()}, {DEPTH.get(model, 'not in Fig. 2')}",
            "compared steps": [int(s) for s in np.asarray(steps)[late]],
            "train acc learned (last step, each seed)": acc_l[:, -1].round(3).tolist(),
            "train acc frozen (last step, each seed)": acc_f[:, -1].round(3).tolist(),
        },
        figures=[
            figure("accuracy", learned, frozen, "train_acc", "train accuracy", model),
            figure("loss", learned, frozen, "train_loss", "train loss", model),
        ],
    )
    verdict = judged(1.0)
    conclude(verdict, {"the frozen nets' curves half as far into training": judged(0.5)}, main=verdict.conditions[0])


@pytest.mark.claim("frozen_validation", runs=frozen_runs)
def test_frozen_validation(trained, model, record, conclude):
    """Validation accuracy and loss of the frozen nets within the bars of the learned ones'."""
    learned, frozen = ([r.evaluation for r in trained[k]] for k in ("learned", "frozen"))
    cfg = paper("frozen_validation")

    def judged(split):
        """Frozen nets on the test split against the learned nets on ``split``."""
        pairs = list(zip(learned, frozen, strict=True))
        gaps = stats.over_runs([f["test_acc"] - lr[f"{split}_acc"] for lr, f in pairs], noun="seeds")
        ratios = stats.over_runs([f["test_loss"] / lr[f"{split}_loss"] for lr, f in pairs], noun="seeds")
        return checks.frozen(gaps, ratios, cfg["max_acc_drop"], cfg["max_loss_ratio"], "test")

    record(
        dataset=trained["learned"][0].spec.dataset,
        details={
            "test acc learned, each seed": [round(e["test_acc"], 3) for e in learned],
            "test acc frozen, each seed": [round(e["test_acc"], 3) for e in frozen],
        },
    )
    verdict = judged("test")
    control = {"the learned nets read on their training images (no generalisation gap)": judged("train")}
    conclude(verdict, control, main=verdict.conditions[0])


def depth_runs(s, depths):
    """Each depth's learned and frozen runs, as ``frozen_runs`` declares them."""
    return {f"{kind} {m}": runs for m in depths for kind, runs in frozen_runs(s, m).items()}


def gap_along(learned, frozen, lag: float = 1.0) -> np.ndarray:
    """Per seed pair, frozen - learned train accuracy at each logged step (seeds x steps)."""
    _, a = curves(learned, "train_acc")
    _, b = curves(frozen, "train_acc", lag)
    return b - a


@pytest.mark.claim("frozen_depth", runs=depth_runs)
def test_frozen_depth(trained, depths, record, conclude):
    """Fig. 2 / App. F: "for deep networks the performance is the same", i.e. what freezing the
    first layer costs shrinks with depth: the frozen - learned train accuracy gap of the deepest
    VGG is above the shallowest's (a difference of two groups of seeds, Welch)."""
    cfg = paper("frozen")
    learned = {m: trained[f"learned {m}"] for m in depths}
    frozen = {m: trained[f"frozen {m}"] for m in depths}
    steps, _ = curves(learned[depths[0]], "train_acc")
    late = np.asarray(steps) > cfg["compare_from"] * steps[-1]
    along = {m: gap_along(learned[m], frozen[m]) for m in depths}
    gaps = {m: along[m][:, late].mean(1) for m in depths}  # averaged over the compared steps
    number = [int("".join(ch for ch in m if ch.isdigit()) or i) for i, m in enumerate(depths)]
    record(
        dataset=learned[depths[0]][0].spec.dataset,
        details={f"{m} gap, each seed": gaps[m].round(4).tolist() for m in depths},
        figures=[
            lines(
                "gap-along-training",
                "Frozen - learned train accuracy along training, by depth (Fig. 2)",
                [band(m.upper(), along[m], x=steps) for m in depths],
                xlabel="step",
                ylabel="frozen - learned train accuracy",
            ),
            lines(
                "gap-by-depth",
                "What freezing the first layer costs, by depth (second half of training)",
                [
                    series(
                        "frozen - learned train accuracy (mean ± sd over seeds)",
                        [gaps[m].mean() for m in depths],
                        x=number,
                        sd=[gaps[m].std() for m in depths],
                    )
                ],
                xlabel="VGG depth (layers)",
                ylabel="frozen - learned train accuracy",
            ),
        ],
    )
    shallow, deep = depths[0], depths[-1]

    def judged(deep_gaps):
        h = np.subtract.outer(deep_gaps, gaps[shallow])  # deep seed i - shallow seed j: Welch over the two groups
        closes = stats.between_values(h, (deep, shallow), correlation=False)
        return checks.frozen_depth(closes)

    handicapped = gap_along(learned[deep], frozen[deep], lag=0.5)[:, late].mean(1)
    conclude(judged(gaps[deep]), {f"{deep}'s frozen nets read half as far into training": judged(handicapped)})
