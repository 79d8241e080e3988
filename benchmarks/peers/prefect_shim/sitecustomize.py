"""Let Prefect 3.8.8 start its local server with the FastAPI versions it allows.

Prefect 3.8.8 passes ``min_items``/``max_items`` to FastAPI's ``Body()`` and friends,
which newer FastAPI releases reject ("Body() got an unexpected keyword argument
'min_items'"). This maps them to ``min_length``/``max_length`` before Prefect imports
FastAPI's parameter functions. It is put on ``PYTHONPATH`` for the Prefect peer only;
it changes no behaviour that the benchmark measures.
"""

try:
    import fastapi
    import fastapi.param_functions as _pf
except ImportError:  # not the Prefect venv: nothing to patch
    pass
else:
    def _renaming(fn):
        def wrapper(*args, **kwargs):
            if "min_items" in kwargs:
                kwargs["min_length"] = kwargs.pop("min_items")
            if "max_items" in kwargs:
                kwargs["max_length"] = kwargs.pop("max_items")
            return fn(*args, **kwargs)

        wrapper.__wrapped__ = fn
        return wrapper

    for _name in ("Body", "Query", "Path", "Header", "Cookie", "Form", "File"):
        if hasattr(_pf, _name):
            _patched = _renaming(getattr(_pf, _name))
            setattr(_pf, _name, _patched)
            if hasattr(fastapi, _name):
                setattr(fastapi, _name, _patched)
