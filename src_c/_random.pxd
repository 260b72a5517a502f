# cython: language_level=3
"""Counter-based random numbers (header-only).

A random number is a pure function of ``(key, stream, counter)``: no state is
carried between draws, so a kernel that gives row ``i`` of a matrix the
stream ``stream0 + i`` and column ``j`` the counter ``j`` draws exactly the
same numbers whatever the thread count or the order rows are visited in.

The mixing function is the finaliser of SplitMix64 (Steele, Lea & Flood 2014,
constants of Vigna's ``splitmix64.c``): a bijection of 64-bit words with full
avalanche.  A stream key ``mix64(key ^ mix64(stream * G1))`` is derived once
per row, then draw ``j`` is ``mix64(stream_key + (j + 1) * G2)`` -- i.e. a
SplitMix64 sequence started at the stream key, which passes BigCrush.

Uniforms keep the top 53 bits of a draw (double) or the top 24 bits of the
same draw (float), so they lie in [0, 1) on an exact grid and the float
uniform is the double one rounded down to 24 bits: float32 and float64
computations seeded alike sample alike.  A Bernoulli(p) draw is
``uniform < p``.
"""
from libc.stdint cimport uint64_t
from libc.math cimport log, sqrt, cos
from cython cimport floating

cdef extern from *:
    """
    #define FASTNUT_RNG_G1 0x9E3779B97F4A7C15ULL
    #define FASTNUT_RNG_G2 0xD1B54A32D192ED03ULL
    """
    uint64_t FASTNUT_RNG_G1
    uint64_t FASTNUT_RNG_G2


cdef inline uint64_t mix64(uint64_t z) noexcept nogil:
    """SplitMix64 finaliser: a 64-bit bijection with full avalanche."""
    z = (z ^ (z >> 30)) * <uint64_t> 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t> 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline uint64_t stream_key(uint64_t key, uint64_t stream) noexcept nogil:
    """Key of one stream (e.g. one row of a matrix) under a generator key."""
    return mix64(key ^ mix64(stream * FASTNUT_RNG_G1 + FASTNUT_RNG_G2))


cdef inline uint64_t random_u64(uint64_t skey, uint64_t counter) noexcept nogil:
    """64 random bits number ``counter`` of the stream with key ``skey``."""
    return mix64(skey + (counter + 1) * FASTNUT_RNG_G2)


cdef inline double uniform_double(uint64_t skey, uint64_t counter) noexcept nogil:
    """Uniform in [0, 1) with 53 random bits."""
    return <double> (random_u64(skey, counter) >> 11) * (1.0 / 9007199254740992.0)


cdef inline float uniform_float(uint64_t skey, uint64_t counter) noexcept nogil:
    """Uniform in [0, 1) with 24 random bits: the top bits of the draw that
    ``uniform_double`` uses for the same counter (so the two agree to 2**-24)."""
    return <float> (random_u64(skey, counter) >> 40) * (<float> (1.0 / 16777216.0))


cdef inline floating uniform(uint64_t skey, uint64_t counter, floating dummy) noexcept nogil:
    """Uniform in [0, 1) at the precision of ``floating`` (``dummy`` picks it)."""
    if floating is float:
        return uniform_float(skey, counter)
    else:
        return uniform_double(skey, counter)


cdef inline double normal_double(uint64_t skey, uint64_t counter) noexcept nogil:
    """Standard normal by Box-Muller from draws ``2 * counter`` and ``2 * counter + 1``."""
    cdef double u1 = 1.0 - uniform_double(skey, 2 * counter)   # in (0, 1]: log is finite
    cdef double u2 = uniform_double(skey, 2 * counter + 1)
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2)
