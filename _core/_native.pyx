# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Native core: deadline heap, pool decisions, tallies, frame scanning, request ids.

No I/O and no clock reads: callers pass the time in. The pure-Python twin in
fallback.py has the same API and behaviour.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.stdio cimport snprintf
from libc.string cimport memcpy, memmove, memset

IMPLEMENTATION = "native"

COLD = C_COLD
THROTTLED_RESERVED = C_THROTTLED_RESERVED
THROTTLED_ACCOUNT = C_THROTTLED_ACCOUNT

STATUS_SUCCESS = C_STATUS_SUCCESS
STATUS_ERROR = C_STATUS_ERROR
STATUS_TIMEOUT = C_STATUS_TIMEOUT

FRAME_HEAD_BYTES = 8

include "includes/deadlines.pyx"
include "includes/pools.pyx"
include "includes/tally.pyx"
include "includes/frames.pyx"
include "includes/ids.pyx"
