import pytest
import torch

from newsqa.devices import resolve_device
from newsqa.errors import DeviceError


def test_auto_picks_what_this_machine_has(monkeypatch):
    monkeypatch.delenv("NEWSQA_DEVICE", raising=False)
    expected = (
        "cuda"
        if torch.cuda.is_available()
        else ("mps" if torch.backends.mps.is_available() else "cpu")
    )
    assert resolve_device("auto") == expected
    assert resolve_device(None) == expected


def test_environment_variable_sets_the_default(monkeypatch):
    monkeypatch.setenv("NEWSQA_DEVICE", "cpu")
    assert resolve_device(None) == "cpu"


def test_unknown_device_is_a_clear_error():
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(DeviceError, match="no usable CUDA"):
        resolve_device("cuda")
