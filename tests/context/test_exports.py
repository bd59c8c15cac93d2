from __future__ import annotations

import bff.context


def test_all_is_sorted_and_complete() -> None:
    assert bff.context.__all__ == sorted(bff.context.__all__, key=lambda n: (not n.isupper(), n))
    public = {
        name
        for name, value in vars(bff.context).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("bff")
    }
    assert public <= set(bff.context.__all__)
    for name in bff.context.__all__:
        assert hasattr(bff.context, name), name
