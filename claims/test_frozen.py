"""Fig. 2 / App. F: training VGGs with the first layer frozen at its random initialisation
costs (almost) nothing, so the learned profile is not needed to fit the training set."""

from __future__ import annotations

import pytest

from harness import checks
from harness.figures import lines, series
from harness.plugin import SCALE
from harness.scales import paper

pytestmark = [pytest.mark.slow]


def pytest_generate_tests(metafunc):
    if "model" in metafunc.fixturenames:
        metafunc.parametrize("model", metafunc.config.stash[SCALE].frozen_models)


def frozen_runs(s, model):
    return {"learned": s.spec(model=model, seed=0), "frozen": s.spec(model=model, seed=0, frozen=True)}


def curve(run, label, style=None):
    h = run.metrics["history"]
    return series(label, [r["train_loss"] for r in h], x=[r["step"] for r in h], style=style)


@pytest.mark.claim("frozen", runs=frozen_runs)
def test_frozen(trained, model, record):
    """Frozen train accuracy >= learned - 2 points, train loss <= 1.1 x learned (one-sided)."""
    learned, frozen = trained["learned"], trained["frozen"]
    assert frozen.init.equal(frozen.final), "the frozen first layer moved"
    lm, fm = learned.metrics, frozen.metrics
    cfg = paper("frozen")
    record(
        measured=fm["train_acc"] - lm["train_acc"],
        dataset=learned.spec.dataset,
        threshold=f"frozen - learned train acc >= -{cfg['max_acc_drop']}; loss <= {cfg['max_loss_ratio']}x",
        data_source=lm["data_source"],
        device=lm["device"],
        details={
            "train acc learned": lm["train_acc"],
            "train acc frozen": fm["train_acc"],
            "train loss learned": lm["train_loss"],
            "train loss frozen": fm["train_loss"],
            "test acc learned": lm["test_acc"],
            "test acc frozen": fm["test_acc"],
        },
        figures=[
            lines(
                "curves",
                f"{model}: train loss, learned vs frozen first layer (Fig. 2)",
                [curve(learned, "learned"), curve(frozen, "frozen", "dashed")],
                xlabel="step",
                ylabel="train loss",
            )
        ],
    )
    checks.frozen(lm, fm)


@pytest.mark.claim("frozen_validation", runs=frozen_runs)
def test_frozen_validation(trained, model, record):
    """Validation accuracy and loss of the frozen net within the bars of the learned one's."""
    lm, fm = trained["learned"].metrics, trained["frozen"].metrics
    cfg = paper("frozen_validation")
    record(
        measured=fm["test_acc"] - lm["test_acc"],
        dataset=trained["learned"].spec.dataset,
        threshold=f"frozen - learned test acc >= -{cfg['max_acc_drop']}; loss <= {cfg['max_loss_ratio']}x",
        data_source=lm["data_source"],
        device=lm["device"],
        details={
            "test acc learned": lm["test_acc"],
            "test acc frozen": fm["test_acc"],
            "test loss learned": lm["test_loss"],
            "test loss frozen": fm["test_loss"],
        },
    )
    checks.frozen_validation(lm, fm)
