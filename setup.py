"""Builds the native core. Everything else about the package lives in pyproject.toml.

LAMBDAGATE_NO_NATIVE=1 skips the native build entirely: no C compiler and no Cython are needed
(Cython is imported only for the native build), and the package runs on the core's pure-Python
twin, _core/fallback.py, which _core/__init__.py falls back to when _core._native is missing.
"""
import os

from setuptools import Extension, setup

# The native core's compiler settings, all of them: here and nowhere else.
EXTRA_COMPILE_ARGS = ["-O2"]
CYTHON_DIRECTIVES = {"language_level": "3", "boundscheck": False, "wraparound": False, "cdivision": True}


def native_extensions() -> list:
    if os.environ.get("LAMBDAGATE_NO_NATIVE") == "1":
        return []
    from Cython.Build import cythonize

    return cythonize(
        [Extension("_core._native", ["_core/_native.pyx"], extra_compile_args=EXTRA_COMPILE_ARGS)],
        compiler_directives=CYTHON_DIRECTIVES,
    )


setup(ext_modules=native_extensions())
