"""cadenza's HTTP service and its web page (``cadenza serve``): the command line's work,
for many users at once, through the library's one pipeline (the service owns no music).

* :func:`~cadenza.service.app.create_app` builds the FastAPI app from
  :class:`~cadenza.service.settings.Settings`; its lifespan starts and stops the job
  engine (:mod:`~cadenza.service.jobs`: a bounded queue and worker processes).
* A route that makes a job calls :func:`cadenza.service.routes.submit` with a kind, the
  request's parameters and any uploaded bytes; the worker runs ``kinds.WORK[kind]``
  (:mod:`~cadenza.service.work`, :mod:`~cadenza.service.work_sketch`) in the job's
  folder, and ``kinds.CHECK[kind]``, where there is one, refuses a bad request at once.
* Every error is ``{"error": "<one line>"}`` (:mod:`~cadenza.service.errors`); API keys
  and rate limits are :mod:`~cadenza.service.limits`.
"""
