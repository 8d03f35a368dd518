"""Platform wheels: gluenet-airflow carries a gluenet binary, so its wheels
are tagged for one platform (py3-none-<GLUENET_WHEEL_PLAT>). Metadata lives
in pyproject.toml; scripts/build-wheels.sh sets the platform and puts the
binary in src/gluenet_airflow/bin/ of a copy of this directory."""

import os

from setuptools import setup
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70
    from wheel.bdist_wheel import bdist_wheel


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return bool(os.environ.get("GLUENET_WHEEL_PLAT"))


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = not os.environ.get("GLUENET_WHEEL_PLAT")

    def get_tag(self):
        plat = os.environ.get("GLUENET_WHEEL_PLAT")
        if not plat:
            return super().get_tag()
        # The binary is a static Go program: no Python ABI, no libc needed.
        return "py3", "none", plat


setup(distclass=BinaryDistribution, cmdclass={"bdist_wheel": PlatformWheel})
