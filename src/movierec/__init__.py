"""movierec: top-N movie recommendation from implicit feedback with side information.

The package is laid out as the pipeline it runs::

    data -> split -> sampling -> models -> evaluate -> ensemble -> pipeline/cli

with serving (:func:`load_run`) as a thin layer over a finished run, and
:func:`read_dataset` reading data in any supported layout.
"""

__version__ = "0.1.0"


def load_run(folder):
    """The models and catalogue of a run folder: :func:`movierec.serving.load_run`."""
    from movierec.serving import load_run as load

    return load(folder)


def read_dataset(path, **options):
    """A data set in any supported layout, normalised: :func:`movierec.data.readers.read_dataset`."""
    from movierec.data.readers import read_dataset as read

    return read(path, **options)
