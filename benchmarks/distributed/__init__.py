"""Scale-out beyond one machine: the same seeded open-loop schedule, sent by Locust workers.

``cluster`` runs a load plan on a Locust master and N workers (on loopback, or printing the
command line for workers on other machines) from an asyncio process; ``launch`` is its
command line for a workload file. ``wire`` is the plan as it travels and the names of the
run's messages; ``locustfile`` is what Locust's processes run, with the master's side in
``locust_master`` and the worker's in ``locust_worker``; ``follow`` reads the master's results
while the run goes and ``convert`` turns them into a ``LoadResult`` and a load history. Only
the ``locust*`` modules import Locust and gevent, and only Locust's own processes import them:
nothing else here may import them, nor may an asyncio process.
"""
