"""movierec: top-N movie recommendation from implicit feedback with side information.

The package is laid out as the pipeline it runs::

    data -> split -> sampling -> models -> evaluate -> ensemble -> pipeline/cli

with serving (:func:`load_run`) as a thin layer over a finished run.
"""

__version__ = "0.1.0"


def load_run(folder):
    """The models and catalogue of a run folder: :func:`movierec.serving.load_run`."""
    from movierec.serving import load_run as load

    return load(folder)
