"""asgi_lab.framework exports exactly the names we mean to support."""

import asgi_lab.framework as framework


def test_public_names() -> None:
    assert sorted(framework.__all__) == [
        "APIRouter",
        "BackgroundTasks",
        "Body",
        "Cookie",
        "Depends",
        "FastAPI",
        "HTTPException",
        "Header",
        "JSONResponse",
        "Path",
        "Query",
        "Request",
        "Response",
        "jsonable_encoder",
        "status",
    ]
    for name in framework.__all__:
        assert getattr(framework, name) is not None


def test_framework_knows_nothing_of_the_lab() -> None:
    import pathlib

    source = pathlib.Path(framework.__file__).parent
    for module in source.glob("*.py"):
        text = module.read_text()
        assert "asgi_lab.probe" not in text and "asgi_lab.lab" not in text, module.name
