"""The upload routes (composer tasks, analyze, originality, verify): owned by h-files.

``router`` is included by :func:`cadenza.service.app.create_app` behind the same API key
and rate-limit guard as the other API routes; make jobs with
:func:`cadenza.service.routes.submit` (``inputs={"upload.mid": data}``).
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
