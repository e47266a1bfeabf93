cdef class Pools:
    """Concurrency accounting and warm-worker choice for every function.

    acquire() reserves a concurrency slot and answers with an idle worker id (the
    most recently used, as Lambda reuses the warmest environment), COLD (start
    one; the slot stays reserved), or a THROTTLED_* code.
    """

    def __cinit__(self, int64_t account_limit):
        self.account_limit = account_limit
        self._n = 0
        self._cap = 0
        self._reserved_total = 0
        self._unreserved_busy = 0

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self._fns != NULL:
            for i in range(self._n):
                PyMem_Free(self._fns[i].idle)
                PyMem_Free(self._fns[i].idle_since_ns)
            PyMem_Free(self._fns)

    cdef FunctionSlots *_fn(self, Py_ssize_t fn) except NULL:
        if fn < 0 or fn >= self._n:
            raise IndexError(f"no function {fn}")
        return &self._fns[fn]

    def add_function(self, int64_t reserved=-1):
        cdef Py_ssize_t new_cap
        if self._n == self._cap:
            new_cap = self._cap * 2 if self._cap else 16
            self._fns = <FunctionSlots *>PyMem_Realloc(self._fns, new_cap * sizeof(FunctionSlots))
            if self._fns == NULL:
                raise MemoryError()
            self._cap = new_cap
        cdef FunctionSlots *f = &self._fns[self._n]
        f.reserved = -1
        f.busy = 0
        f.idle = NULL
        f.idle_since_ns = NULL
        f.n_idle = 0
        f.cap_idle = 0
        self._n += 1
        if reserved >= 0:
            self.set_reserved(self._n - 1, reserved)
        return self._n - 1

    def set_reserved(self, Py_ssize_t fn, int64_t reserved):
        """Change a function's reserved concurrency (-1 removes it); running work is kept."""
        cdef FunctionSlots *f = self._fn(fn)
        if f.reserved >= 0:
            self._reserved_total -= f.reserved
        else:
            self._unreserved_busy -= f.busy
        f.reserved = reserved if reserved >= 0 else -1
        if f.reserved >= 0:
            self._reserved_total += f.reserved
        else:
            self._unreserved_busy += f.busy

    def reserved(self, Py_ssize_t fn):
        return self._fn(fn).reserved

    cpdef int64_t acquire(self, Py_ssize_t fn) except? -99:
        cdef FunctionSlots *f = self._fn(fn)
        if f.reserved >= 0:
            if f.busy >= f.reserved:
                return C_THROTTLED_RESERVED
        else:
            if self._unreserved_busy >= self.account_limit - self._reserved_total:
                return C_THROTTLED_ACCOUNT
            self._unreserved_busy += 1
        f.busy += 1
        if f.n_idle:
            f.n_idle -= 1
            return f.idle[f.n_idle]
        return C_COLD

    cdef inline void _release_slot(self, FunctionSlots *f) noexcept:
        f.busy -= 1
        if f.reserved < 0:
            self._unreserved_busy -= 1

    cdef int _push_idle(self, FunctionSlots *f, int64_t worker, int64_t now_ns) except -1:
        cdef Py_ssize_t new_cap
        if f.n_idle == f.cap_idle:
            new_cap = f.cap_idle * 2 if f.cap_idle else 8
            f.idle = <int64_t *>PyMem_Realloc(f.idle, new_cap * sizeof(int64_t))
            f.idle_since_ns = <int64_t *>PyMem_Realloc(f.idle_since_ns, new_cap * sizeof(int64_t))
            if f.idle == NULL or f.idle_since_ns == NULL:
                raise MemoryError()
            f.cap_idle = new_cap
        f.idle[f.n_idle] = worker
        f.idle_since_ns[f.n_idle] = now_ns
        f.n_idle += 1
        return 0

    cpdef cold_failed(self, Py_ssize_t fn):
        self._release_slot(self._fn(fn))

    cpdef release(self, Py_ssize_t fn, int64_t worker, int64_t now_ns):
        """A busy worker finished and is warm again."""
        cdef FunctionSlots *f = self._fn(fn)
        self._release_slot(f)
        self._push_idle(f, worker, now_ns)

    cpdef discard_busy(self, Py_ssize_t fn):
        """A busy worker died or was killed: free its slot, keep nothing."""
        self._release_slot(self._fn(fn))

    def add_idle(self, Py_ssize_t fn, int64_t worker, int64_t now_ns):
        """A worker that is ready but not serving anyone joins the idle stack."""
        self._push_idle(self._fn(fn), worker, now_ns)

    def remove_idle(self, Py_ssize_t fn, int64_t worker):
        """An idle worker died: forget it."""
        cdef FunctionSlots *f = self._fn(fn)
        cdef Py_ssize_t i
        for i in range(f.n_idle - 1, -1, -1):
            if f.idle[i] == worker:
                memmove(&f.idle[i], &f.idle[i + 1], (f.n_idle - i - 1) * sizeof(int64_t))
                memmove(&f.idle_since_ns[i], &f.idle_since_ns[i + 1], (f.n_idle - i - 1) * sizeof(int64_t))
                f.n_idle -= 1
                return True
        return False

    def reap(self, int64_t now_ns, int64_t keepalive_ns):
        """Idle workers unused for keepalive_ns or longer, removed from the pools."""
        cdef list reaped = []
        cdef int64_t cutoff
        cdef Py_ssize_t fn, n, i
        cdef FunctionSlots *f
        # cutoff = now_ns - keepalive_ns, saturated instead of wrapping around int64
        if keepalive_ns >= 0:
            if now_ns < INT64_MIN + keepalive_ns:
                return reaped  # the cutoff lies below every possible stamp
            cutoff = now_ns - keepalive_ns
        elif now_ns > INT64_MAX + keepalive_ns:
            cutoff = INT64_MAX  # above every possible stamp
        else:
            cutoff = now_ns - keepalive_ns
        for fn in range(self._n):
            f = &self._fns[fn]
            n = 0
            while n < f.n_idle and f.idle_since_ns[n] <= cutoff:
                n += 1
            if n:
                for i in range(n):
                    reaped.append(f.idle[i])
                memmove(f.idle, &f.idle[n], (f.n_idle - n) * sizeof(int64_t))
                memmove(f.idle_since_ns, &f.idle_since_ns[n], (f.n_idle - n) * sizeof(int64_t))
                f.n_idle -= n
        return reaped

    def take_idle(self, Py_ssize_t fn):
        """Every idle worker of fn, removed (code reload, shutdown)."""
        cdef FunctionSlots *f = self._fn(fn)
        cdef list workers = [f.idle[i] for i in range(f.n_idle)]
        f.n_idle = 0
        return workers

    def busy(self, Py_ssize_t fn):
        return self._fn(fn).busy

    def idle(self, Py_ssize_t fn):
        return self._fn(fn).n_idle

    def total_busy(self):
        cdef int64_t total = 0
        cdef Py_ssize_t i
        for i in range(self._n):
            total += self._fns[i].busy
        return total
