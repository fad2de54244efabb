"""Scale-out beyond one machine: the same seeded open-loop schedule, sent by Locust workers.

``cluster`` runs a load plan on a Locust master and N workers (on loopback, or printing the
command line for workers on other machines) from an asyncio process; ``launch`` is its
command line for a workload file. ``wire`` is the plan as it travels, ``locustfile`` is what
runs inside Locust's processes, ``follow`` reads the master's results while the run goes and
``convert`` turns them into a ``LoadResult`` and a load history. Only ``locustfile`` imports
Locust and gevent, and only Locust's own processes import ``locustfile``: nothing here may
be imported into an asyncio process that also imports it.
"""
