cpdef int64_t billed_ms(int64_t duration_ns, int64_t init_ns=0) noexcept:
    """Lambda bills duration (plus INIT on a cold start) rounded up to the next 1 ms."""
    cdef uint64_t total
    if duration_ns >= 0 and init_ns >= 0:
        total = <uint64_t>duration_ns + <uint64_t>init_ns  # at most 2**64 - 2: no wrap
    elif duration_ns < 0 and init_ns < 0:
        return 1
    elif duration_ns + init_ns > 0:  # mixed signs cannot overflow
        total = <uint64_t>(duration_ns + init_ns)
    else:
        return 1
    if total == 0:
        return 1
    # rounded up without adding 999_999 first, which could wrap near the top of the range
    return <int64_t>((total - 1) // 1_000_000 + 1)


cpdef str format_ms(int64_t ns):
    """Nanoseconds as milliseconds with two decimals, as REPORT lines print them."""
    # hundredths of a millisecond, rounded half up: floor((ns + 5_000) / 10_000), computed
    # without overflowing int64 and with floor (not C's truncating) division for negatives
    cdef int64_t hundredths = ns // 10_000, rest = ns % 10_000
    cdef char buf[32]
    cdef int n
    if rest < 0:
        hundredths -= 1
        rest += 10_000
    if rest >= 5_000:
        hundredths += 1
    if hundredths >= 0:
        n = snprintf(buf, sizeof(buf), "%lld.%02lld",
                     <long long>(hundredths // 100), <long long>(hundredths % 100))
    else:
        n = snprintf(buf, sizeof(buf), "-%lld.%02lld",
                     <long long>(-(hundredths // 100)), <long long>(-(hundredths % 100)))
    return buf[:n].decode("ascii")


cdef class Tally:
    """Per-function totals: invocations, errors, timeouts, throttles, billing."""

    FIELDS = ("invocations", "errors", "timeouts", "throttles", "cold_starts",
              "duration_ns", "billed_ms", "mb_ms")

    def __cinit__(self):
        self._n = 0
        self._cap = 0

    def __dealloc__(self):
        PyMem_Free(self._rows)

    def add_function(self):
        cdef Py_ssize_t new_cap
        if self._n == self._cap:
            new_cap = self._cap * 2 if self._cap else 16
            self._rows = <int64_t *>PyMem_Realloc(self._rows, new_cap * TALLY_FIELDS * sizeof(int64_t))
            if self._rows == NULL:
                raise MemoryError()
            self._cap = new_cap
        memset(&self._rows[self._n * TALLY_FIELDS], 0, TALLY_FIELDS * sizeof(int64_t))
        self._n += 1
        return self._n - 1

    cpdef int64_t record(self, Py_ssize_t fn, int64_t duration_ns, int64_t init_ns,
                         int64_t memory_mb, int status) except -1:
        if fn < 0 or fn >= self._n:
            raise IndexError(f"no function {fn}")
        cdef int64_t billed = billed_ms(duration_ns, init_ns)
        cdef int64_t *row = &self._rows[fn * TALLY_FIELDS]
        row[0] += 1
        if status != C_STATUS_SUCCESS:
            row[1] += 1
            if status == C_STATUS_TIMEOUT:
                row[2] += 1
        if init_ns:
            row[4] += 1
        row[5] += duration_ns
        row[6] += billed
        row[7] += billed * memory_mb
        return billed

    cpdef throttle(self, Py_ssize_t fn):
        if fn < 0 or fn >= self._n:
            raise IndexError(f"no function {fn}")
        self._rows[fn * TALLY_FIELDS + 3] += 1

    def snapshot(self, Py_ssize_t fn):
        if fn < 0 or fn >= self._n:
            raise IndexError(f"no function {fn}")
        cdef int64_t *row = &self._rows[fn * TALLY_FIELDS]
        return {name: row[i] for i, name in enumerate(self.FIELDS)}
