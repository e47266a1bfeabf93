"""Builds the native core. Everything else about the package lives in pyproject.toml."""
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("_core._native", ["_core/_native.pyx"], extra_compile_args=["-O2"])],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "cdivision": True},
    ),
)
