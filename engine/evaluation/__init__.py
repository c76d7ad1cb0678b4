"""The engine-wide walk-forward harness: splits, metrics, trading evaluation, runner.

Every number the cockpit shows about a model comes from here: purged and
embargoed walk-forward folds (`splits`), out-of-sample metrics next to
baselines (`metrics`), next-bar execution with fees and slippage against
buy-and-hold (`trading`), and the classifier runner (`walkforward`).
"""

from engine.evaluation.splits import Split, holdout_split, walk_forward_splits
from engine.evaluation.walkforward import ModelEvaluation, ModelReport, evaluate_classifier

__all__ = ["ModelEvaluation", "ModelReport", "Split", "evaluate_classifier", "holdout_split",
           "walk_forward_splits"]
