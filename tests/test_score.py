"""ensemble.score: an ensemble, a student or a trial on a labelled file, overall and per keypoint, without
and with flip TTA, and the worst faces as a picture."""

import numpy as np
import pytest

from data.keypoints import KEYPOINT_NAMES
from ensemble.score import main, score_lines


def test_the_table_has_each_keypoints_rmse_and_the_overall_one():
    targets = np.full((4, 30), 40.0)
    targets[0, 5] = np.nan  # a missing label counts nowhere
    off = targets.copy()
    off[:, 0] += 1.0  # left_eye_center_x one pixel off on every face
    lines = score_lines({"a": off, "b": targets}, targets)
    assert lines[0].split() == ["keypoint", "a", "b"] and len(lines) == 17
    assert lines[1].split() == [KEYPOINT_NAMES[0], f"{np.sqrt(0.5):.3f}", "0.000"]  # x one off, y exact
    assert lines[-1].split()[-2:] == [f"{np.sqrt(4 / 119):.3f}", "0.000"]  # 4 of the 119 labelled coordinates one off


def test_scoring_an_ensemble_prints_both_ways_and_draws_the_worst_faces(tiny_data, tmp_path, capsys, one_member_ensemble):
    folder = one_member_ensemble(tmp_path / "ens")
    main(["--data", str(tiny_data[0]), "--ensemble", str(folder), "--out", str(tmp_path / "worst.png")])
    out = capsys.readouterr().out
    assert "ensemble" in out and "on 48 labelled faces" in out and "no TTA" in out and "flip TTA" in out
    assert sum(line.startswith(tuple(KEYPOINT_NAMES)) for line in out.splitlines()) == 15
    assert (tmp_path / "worst.png").stat().st_size > 0


def test_a_file_without_labels_is_one_clear_error(tiny_data, tmp_path, capsys, one_member_ensemble):
    folder = one_member_ensemble(tmp_path / "ens")
    with pytest.raises(SystemExit):
        main(["--data", str(tiny_data[1]), "--ensemble", str(folder)])
    assert "has no keypoint columns" in capsys.readouterr().err


@pytest.mark.slow  # the smoke search
def test_a_trial_scored_on_its_own_validation_faces_scores_what_the_search_recorded(smoke_search, tmp_path, capsys):
    import pandas as pd

    from data.keypoints import COLUMNS
    from data.synthetic import images_to_strings
    from search.results import SearchFolder

    best = min(SearchFolder(smoke_search).trials(), key=lambda t: t.best_val_rmse)
    val = best.config.load_split().val
    pd.DataFrame({**dict(zip(COLUMNS, val.keypoints.T)), "Image": images_to_strings(val.images)}).to_csv(tmp_path / "val.csv", index=False)
    main(["--data", str(tmp_path / "val.csv"), "--runs-dir", str(smoke_search.parent), "--run", "smoke", "--trial", "1",
          "--out", str(tmp_path / "worst.png"), "--amp", "off"])  # float32, as the search scored (bf16 CPUs would round differently)
    out = capsys.readouterr().out
    overall = [line for line in out.splitlines() if line.startswith("all coordinates")][0].split()
    assert f"trial {best.id} of smoke" in out and float(overall[2]) == pytest.approx(best.checkpoint.val.rmse, abs=2e-3)
