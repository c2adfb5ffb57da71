"""ensemble.predict says the validation figure of what it predicts: with flip TTA or without, and none
for a refitted ensemble, which trained on the validation faces."""

from ensemble.folder import HeldOut, Manifest, Refit
from ensemble.predict import validation_figure


def _manifest(**kw) -> Manifest:
    return Manifest(members=[], val_rmse=1.5, total_mb=1.0, budget_mb=50, dtype="fp32", bf16=False, max_diff_px=0.0, run="", data={},
                    device="cpu", heldout=HeldOut(0, 1.52, 1.6), flip_tta_val_rmse=1.45, **kw)


def test_predicting_with_flip_tta_prints_the_flip_tta_figure():
    assert "1.450 px with flip TTA" in validation_figure(_manifest(), tta=True)
    assert "1.500 px without flip TTA" in validation_figure(_manifest(), tta=False)


def test_a_refitted_ensemble_has_no_validation_figure_of_its_own():
    said = validation_figure(_manifest(refit=Refit(source="runs/s/ensemble", train_faces=100, seconds=1.0)), tta=True)
    assert "no validation figure of its own" in said and "1.450" not in said
