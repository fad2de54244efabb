"""Scale-out beyond one machine: the same seeded open-loop schedule, sent by Locust workers.

``launch`` starts a Locust master and N workers (on loopback, or prints the command line
for workers on other machines), ``locustfile`` is what runs inside those processes, and
``convert`` turns what the master collected into a load history. Only ``locustfile`` imports
Locust and gevent, and only Locust's own processes import ``locustfile``: nothing here may
be imported into an asyncio process that also imports it.
"""
