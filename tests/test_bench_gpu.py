"""bench.gpu, the GPU check prepared for the first GPU machine: without CUDA it says so and writes nothing."""

import torch

from bench.gpu import main


def test_without_a_gpu_the_check_says_so_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # on a GPU machine too: the check itself runs for minutes
    main(["--out", str(tmp_path / "gpu.json")])
    assert "no CUDA GPU on this machine" in capsys.readouterr().out
    assert not (tmp_path / "gpu.json").exists()
