"""``python -m reference_impl.embedding_worker``: run the worker's command line (``cli.worker``).

The command lives in ``cli``, not here, so that the package can re-export it: importing
``__main__`` from ``__init__`` would make ``python -m`` warn that it runs a module already
imported.
"""

from .cli import worker


if __name__ == "__main__":
    worker(prog_name="python -m reference_impl.embedding_worker")
