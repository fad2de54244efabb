"""The container backend: PostgreSQL+pgvector, Redis and Toxiproxy in Docker containers.

- ``services``: the three servers and ``ContainerBackend``, which ``stack.stack`` uses when the
  backend is ``containers`` (``stack.backend``);
- ``server``: one container with the guarantees of a process of our own (``ContainerServer``);
- ``images``: which image each service runs (upstream names, pinned tags) and its record;
- ``image_build``: those images built on this machine (``meltproof images build``);
- ``labels`` and ``cleanup``: every container is labelled with its stack and harness, and
  removed by label, also when its harness was killed;
- ``engine`` and ``availability``: the Docker engine, and whether the backend can start here.

Nothing here is imported unless the container backend is asked for.
"""
