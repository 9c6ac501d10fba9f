"""asgi_lab.framework knows nothing of the lab (its public names: tests/test_public.py)."""

import asgi_lab.framework as framework


def test_framework_knows_nothing_of_the_lab() -> None:
    import pathlib

    source = pathlib.Path(framework.__file__).parent
    for module in source.glob("*.py"):
        text = module.read_text()
        assert "asgi_lab.probe" not in text and "asgi_lab.lab" not in text, module.name
