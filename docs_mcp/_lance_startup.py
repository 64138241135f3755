"""Imported by store.py before `lancedb`: LanceDB without the start-up cost of a client we never use."""

from __future__ import annotations

import threading
from typing import Any


def _defer_rest_namespace_client() -> None:
    """Skip ~0.5 s of start-up that LanceDB spends on a client docs-mcp never uses.

    `import lancedb` imports `lance_namespace`, which imports the generated REST client
    `lance_namespace_urllib3_client`, whose package `__init__` builds every REST API class (pydantic
    `validate_call` on hundreds of methods): 0.5-0.6 s of a 1.0 s `import lancedb`, paid by every
    CLI call and every stdio server start. Only the REST namespace uses those API classes. Here
    the package is registered with its `__path__` but without running its `__init__`, so its
    submodules (the models lance_namespace does use) import as usual; the first access to any
    attribute of the package itself runs the real `__init__`, so nothing can go missing.
    """
    import importlib.util
    import sys

    name = "lance_namespace_urllib3_client"
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not installed, or not a package any more: nothing to defer
    package = importlib.util.module_from_spec(spec)
    lock = threading.RLock()  # a second thread waits while the first runs the real __init__
    started: list[bool] = []

    def load_on_first_use(attribute: str) -> Any:
        if not attribute.startswith("__"):
            with lock:
                if not started:
                    started.append(True)
                    spec.loader.exec_module(package)  # type: ignore[union-attr]
            if attribute in package.__dict__:
                return package.__dict__[attribute]
        raise AttributeError(f"module {name!r} has no attribute {attribute!r}")

    package.__dict__["__getattr__"] = load_on_first_use  # a module __getattr__ (PEP 562)
    sys.modules[name] = package


_defer_rest_namespace_client()
