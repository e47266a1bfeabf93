# The native core's header: one extension built from the units in includes/.
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t, uint32_t, uint64_t

include "includes/deadlines.pxd"
include "includes/pools.pxd"
include "includes/tally.pxd"
include "includes/frames.pxd"
include "includes/ids.pxd"
