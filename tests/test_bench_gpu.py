"""bench.gpu, the GPU check prepared for the first GPU machine: without CUDA it says so and writes nothing."""

import pytest
import torch

from bench.gpu import main


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine the check runs for minutes")
def test_without_a_gpu_the_check_says_so_and_writes_nothing(tmp_path, capsys):
    main(["--out", str(tmp_path / "gpu.json")])
    assert "no CUDA GPU on this machine" in capsys.readouterr().out
    assert not (tmp_path / "gpu.json").exists()
