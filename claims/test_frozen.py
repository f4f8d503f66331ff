"""Fig. 2 / App. F: training VGGs with the first layer frozen at its random initialisation
costs (almost) nothing, so the learned profile is not needed to fit the training set."""
from __future__ import annotations

import pytest

from harness.scales import paper, scale as load_scale, spec

from common import lines

pytestmark = [pytest.mark.slow]


def pytest_generate_tests(metafunc):
    if "model" in metafunc.fixturenames:
        metafunc.parametrize("model", load_scale(metafunc.config.firstlayer_scale).frozen_models)


def frozen_violations(learned: dict, frozen: dict) -> list[str]:
    """The Fig. 2 check: what makes the frozen net worse than the learned one beyond the bars."""
    cfg, out = paper("frozen"), []
    if frozen["train_acc"] < learned["train_acc"] - cfg["max_acc_drop"]:
        out.append(f"frozen train accuracy {frozen['train_acc']:.3f} < learned {learned['train_acc']:.3f} "
                   f"- {cfg['max_acc_drop']}")
    if frozen["train_loss"] > cfg["max_loss_ratio"] * learned["train_loss"]:
        out.append(f"frozen train loss {frozen['train_loss']:.3f} > {cfg['max_loss_ratio']} x learned "
                   f"{learned['train_loss']:.3f}")
    return out


def curve(run, label, style=None):
    h = run.metrics["history"]
    return {"label": label, "x": [r["step"] for r in h], "y": [r["train_loss"] for r in h], "sd": None, "style": style}


@pytest.mark.claim("frozen")
def test_frozen(runs, scale, model, record):
    """Frozen train accuracy >= learned - 2 points, train loss <= 1.1 x learned (one-sided)."""
    learned = runs.get(spec(scale, model=model, seed=0))
    frozen = runs.get(spec(scale, model=model, seed=0, frozen=True))
    assert frozen.init.equal(frozen.final), "the frozen first layer moved"
    lm, fm = learned.metrics, frozen.metrics
    cfg = paper("frozen")
    record(measured=fm["train_acc"] - lm["train_acc"], dataset=learned.spec.dataset,
           threshold=f"frozen - learned train acc >= -{cfg['max_acc_drop']}; loss <= {cfg['max_loss_ratio']}x",
           data_source=lm["data_source"], device=lm["device"],
           details={"train acc learned": lm["train_acc"], "train acc frozen": fm["train_acc"],
                    "train loss learned": lm["train_loss"], "train loss frozen": fm["train_loss"],
                    "test acc learned": lm["test_acc"], "test acc frozen": fm["test_acc"]},
           figures=[lines("curves", f"{model}: train loss, learned vs frozen first layer (Fig. 2)",
                          [curve(learned, "learned"), curve(frozen, "frozen", "dashed")],
                          xlabel="step", ylabel="train loss")])
    problems = frozen_violations(lm, fm)
    assert not problems, "; ".join(problems)
