"""movierec: top-N movie recommendation from implicit feedback with side information.

The package is laid out as the pipeline it runs::

    data -> split -> sampling -> models -> evaluate -> ensemble -> pipeline/cli
"""

__version__ = "0.1.0"
