import pytest
import torch

import mdiff


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(params=["VP", "VE"])
def schedule(request):
    return mdiff.VP() if request.param == "VP" else mdiff.VE()


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
