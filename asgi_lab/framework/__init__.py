"""A small FastAPI-compatible framework on Starlette: same signatures, same errors, same threads.

A FastAPI app runs on it with only its imports changed. Each route's signature is compiled once
into a plan; per request the plan is solved with FastAPI's order and FastAPI's choice of event loop
or worker thread for every function, so what the lab observes is what FastAPI would do.
"""

from starlette import status
from starlette.background import BackgroundTasks
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .app import FastAPI
from .encode import jsonable_encoder
from .errors import HTTPException
from .params import Body, Cookie, Depends, Header, Path, Query
from .routing import APIRouter

__all__ = [
    "APIRouter",
    "BackgroundTasks",
    "Body",
    "Cookie",
    "Depends",
    "FastAPI",
    "HTTPException",
    "Header",
    "JSONResponse",
    "Path",
    "Query",
    "Request",
    "Response",
    "jsonable_encoder",
    "status",
]
