cdef enum:
    TALLY_FIELDS = 8
    C_STATUS_SUCCESS = 0
    C_STATUS_ERROR = 1
    C_STATUS_TIMEOUT = 2


cdef class Tally:
    # One row of TALLY_FIELDS counters per function, in the order of Tally.FIELDS.
    cdef int64_t *_rows
    cdef Py_ssize_t _n
    cdef Py_ssize_t _cap

    cpdef int64_t record(self, Py_ssize_t fn, int64_t duration_ns, int64_t init_ns,
                         int64_t memory_mb, int status) except -1
    cpdef throttle(self, Py_ssize_t fn)


cpdef int64_t billed_ms(int64_t duration_ns, int64_t init_ns=*) noexcept
cpdef str format_ms(int64_t ns)
