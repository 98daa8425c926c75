"""Weight averaging of two runs (models/average.py), on the shipped weights."""

import pytest
import torch
from safetensors.torch import load_file, save_file

from models.average import WEIGHTS, average
from models.train import SHIPPED


def test_half_and_half_of_one_model_is_that_model(tmp_path):
    average(SHIPPED, SHIPPED, 0.5, tmp_path / "soup")
    original, mixed = load_file(SHIPPED / WEIGHTS), load_file(tmp_path / "soup" / WEIGHTS)
    assert original.keys() == mixed.keys()
    assert all(torch.equal(original[k], mixed[k]) for k in original)
    assert (tmp_path / "soup" / "config.json").read_text() == (SHIPPED / "config.json").read_text()


def test_the_weight_sets_each_model_share(tmp_path):
    for name, value in (("a", 1.0), ("b", 3.0)):
        (tmp_path / name).mkdir()
        save_file(
            {"w": torch.full((2,), value), "step": torch.tensor([7])}, tmp_path / name / WEIGHTS
        )
    average(tmp_path / "a", tmp_path / "b", 0.25, tmp_path / "out")
    mixed = load_file(tmp_path / "out" / WEIGHTS)
    assert mixed["w"].tolist() == [1.5, 1.5] and mixed["step"].tolist() == [7]


def test_refuses_other_architectures_and_bad_weights(tmp_path):
    for name, shape in (("a", (2,)), ("b", (3,))):
        (tmp_path / name).mkdir()
        save_file({"w": torch.zeros(shape)}, tmp_path / name / WEIGHTS)
    with pytest.raises(ValueError, match="not the same architecture"):
        average(tmp_path / "a", tmp_path / "b", 0.5, tmp_path / "out")
    with pytest.raises(ValueError, match="must lie in"):
        average(tmp_path / "a", tmp_path / "a", 1.5, tmp_path / "out")
