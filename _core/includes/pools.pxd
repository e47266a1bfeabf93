cdef enum:
    C_COLD = -1
    C_THROTTLED_RESERVED = -2
    C_THROTTLED_ACCOUNT = -3


cdef struct FunctionSlots:
    int64_t reserved        # -1 = draws on the unreserved account pool
    int64_t busy            # running + starting
    int64_t *idle           # worker ids, oldest first (the top is the warmest)
    int64_t *idle_since_ns
    Py_ssize_t n_idle
    Py_ssize_t cap_idle


cdef class Pools:
    cdef FunctionSlots *_fns
    cdef Py_ssize_t _n
    cdef Py_ssize_t _cap
    cdef int64_t _reserved_total
    cdef int64_t _unreserved_busy
    cdef public int64_t account_limit

    cdef FunctionSlots *_fn(self, Py_ssize_t fn) except NULL
    cdef int _push_idle(self, FunctionSlots *f, int64_t worker, int64_t now_ns) except -1
    cdef inline void _release_slot(self, FunctionSlots *f) noexcept

    cpdef int64_t acquire(self, Py_ssize_t fn) except? -99
    cpdef release(self, Py_ssize_t fn, int64_t worker, int64_t now_ns)
    cpdef cold_failed(self, Py_ssize_t fn)
    cpdef discard_busy(self, Py_ssize_t fn)
