"""Every backbone the task catalogue recommends is a model timm can build."""

import pytest

from advisor.knowledge_base import knowledge_base


@pytest.mark.slow
def test_recommended_backbones_exist_in_timm():
    timm = pytest.importorskip("timm")
    known = set(timm.list_models())
    names = {
        name
        for task in knowledge_base().tasks.values()
        for per_target in task.backbones.values()
        for name in per_target
    }
    assert sorted(names - known) == []
