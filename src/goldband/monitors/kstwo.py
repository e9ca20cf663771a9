"""The two-sided one-sample Kolmogorov-Smirnov distribution's tail, ``P(D_n >= d)``, without ``scipy.stats``.

The KS test's asymptotic p-value is ``scipy.stats.kstwo.sf(d, n)``; importing
``scipy.stats`` costs about a second (it parses every distribution's docstring),
which was a third of ``goldband monitor demo``. This is scipy's own algorithm
(``scipy/stats/_ksstats.py``, BSD-3), ported for the tail alone: Simard and
L'Ecuyer's choice among exact and approximate methods [1]: the Durbin matrix
in Marsaglia, Tsang and Wang's form [2], Pomeranz's recursion [3], the
Pelz-Good expansion [4], Ruben-Gambino's closed forms and ``2 smirnov(n, d)``
(``scipy.special``, cheap to import) for the far tail. Equal to scipy's to
1e-12 (tests/monitors/test_kstwo.py, with hypothesis).

[1] Simard R, L'Ecuyer P (2011). Computing the two-sided Kolmogorov-Smirnov distribution. J Stat Softw 39(11).
[2] Marsaglia G, Tsang WW, Wang J (2003). Evaluating Kolmogorov's distribution. J Stat Softw 8(18).
[3] Pomeranz J (1974). Exact cumulative distribution of the Kolmogorov-Smirnov statistic for small samples.
    Commun ACM 17(12), 703-704.
[4] Pelz W, Good IJ (1976). Approximating the lower tail-areas of the Kolmogorov-Smirnov one-sample
    statistic. J R Stat Soc B 38(2), 152-156.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["kstwo_sf"]

_E128 = 128
_EP128, _EM128 = math.ldexp(1.0, _E128), math.ldexp(1.0, -_E128)
_SQRT2PI, _LOG_2PI = math.sqrt(2 * math.pi), math.log(2 * math.pi)
_MIN_LOG = -708
_PI2, _PI4, _PI6 = math.pi ** 2, math.pi ** 4, math.pi ** 6
_STIRLING = [-2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3,
             8.4175084175084175084e-4, -5.952380952380952381e-4, 7.9365079365079365079e-4,
             -2.7777777777777777778e-3, 8.3333333333333333333e-2]


def kstwo_sf(d: float, n: int) -> float:
    """``P(D_n >= d)`` for the two-sided one-sample statistic of ``n`` values: ``scipy.stats.kstwo.sf(d, n)``.

    >>> round(kstwo_sf(0.1, 100), 6), kstwo_sf(1.0, 5), kstwo_sf(0.0, 5)
    (0.252693, 0.0, 1.0)
    """
    if n <= 0:
        raise ValueError(f"n must be a positive integer, not {n}")
    if d >= 1.0:
        return 0.0
    t = n * d
    if t <= 0.5:
        return 1.0
    if t <= 1.0:  # Ruben-Gambino: 1/2n <= d <= 1/n
        if n <= 140:
            cdf = float(np.prod(np.arange(1, n + 1) * (1.0 / n) * (2 * t - 1)))
        else:
            cdf = math.exp(_log_factorial_over_power(n) + n * math.log(2 * t - 1))
        return _clip(1.0 - cdf)
    if t >= n - 1:  # Ruben-Gambino
        return _clip(2 * (1.0 - d) ** n)
    if d >= 0.5:
        return _smirnov2(n, d)
    nd2 = t * d
    if n <= 140:
        if nd2 <= 0.754693:
            return _clip(1.0 - _durbin(n, d))
        if nd2 <= 4:
            return _clip(1.0 - _pomeranz(n, d))
        return _smirnov2(n, d)
    if nd2 >= 370.0:
        return 0.0
    if nd2 >= 2.2:
        return _smirnov2(n, d)
    if n <= 100_000 and n * d ** 1.5 <= 1.4:
        return _clip(1.0 - _durbin(n, d))
    return _clip(1.0 - _pelz_good(n, d))


def _clip(p: float) -> float:
    return min(max(float(p), 0.0), 1.0)


def _smirnov2(n: int, d: float) -> float:
    """Twice the one-sided tail: exact for ``d >= 0.5`` and within rounding far out in the tail."""
    from scipy import special

    return _clip(2 * float(special.smirnov(n, d)))


def _log_factorial_over_power(n: int) -> float:
    """``log(n! / n**n)`` by Stirling's series, ``n log n`` taken out first against cancellation."""
    r = 1.0 / n
    return math.log(n) / 2 - n + _LOG_2PI / 2 + r * float(np.polyval(_STIRLING, r / n))


def _durbin(n: int, d: float) -> float:
    """``P(D_n <= d)`` by Durbin's matrix (the k-th diagonal entry of ``H**n`` times ``n!/n**n``), scaled
    by powers of two against overflow and underflow as Marsaglia, Tsang and Wang do."""
    nd = n * d
    if nd <= 0.5:
        return 0.0
    k = math.ceil(nd)
    h, m = k - nd, 2 * k - 1
    v = 1.0 - h ** np.arange(1, m + 1)
    w, fac = np.empty(m), 1.0
    for j in range(1, m + 1):
        w[j - 1] = fac
        fac /= j
        v[j - 1] *= fac
    v[-1] = (1.0 + max(2 * h - 1.0, 0) ** m - 2 * h ** m) * fac
    big = np.zeros((m, m))
    for i in range(1, m):
        big[i - 1:, i] = w[:m - i + 1]
    big[:, 0] = v
    big[-1, :] = v[::-1]
    power, exponent, big_exponent, left = np.eye(m), 0, 0, n
    while left > 0:
        if left % 2:
            power = power @ big
            exponent += big_exponent
        big = big @ big
        big_exponent *= 2
        if abs(big[k - 1, k - 1]) > _EP128:
            big /= _EP128
            big_exponent += _E128
        left //= 2
    p = float(power[k - 1, k - 1])
    for i in range(1, n + 1):
        p = i * p / n
        if abs(p) < _EM128:
            p *= _EP128
            exponent -= _E128
    return _clip(math.ldexp(p, exponent))


def _pomeranz(n: int, d: float) -> float:
    """``P(D_n <= d)`` by Pomeranz's recursion: two rows of Poisson-like convolutions, scaled as they go."""
    t = n * d
    whole = math.floor(t)
    f = t - whole
    g, ceilf, roundf = min(f, 1.0 - f), int(f > 0), int(f > 0.5)
    size = 2 * (whole + 1)
    steps = np.arange(1, size)
    gpower = np.concatenate(([1.0], np.cumprod(g / n / steps)))
    twogpower = np.concatenate(([1.0], np.cumprod(2 * g / n / steps)))
    onem2gpower = np.concatenate(([1.0], np.cumprod((1 - 2 * g) / n / steps)))
    v0, v1 = np.zeros(size), np.zeros(size)
    v1[0], v0s, v1s, exponent = 1.0, 0, 0, 0
    j1, j2 = _pomeranz_span(0, n, whole, ceilf, roundf)
    for i in range(1, 2 * n + 2):
        k1 = j1
        v0, v1 = v1, v0
        v0s, v1s = v1s, v0s
        v1.fill(0.0)
        j1, j2 = _pomeranz_span(i, n, whole, ceilf, roundf)
        powers = gpower if i in (1, 2 * n + 1) else (twogpower if i % 2 else onem2gpower)
        length = j2 - k1 + 1
        if length > 0:
            conv = np.convolve(v0[k1 - v0s:k1 - v0s + length], powers[:length])
            v1[:j2 - j1 + 1] = conv[j1 - k1:j2 - k1 + 1]
            if 0 < np.max(v1) < _EM128:
                v1 *= _EP128
                exponent -= _E128
            v1s = v0s + j1 - k1
    answer = float(v1[n - v1s])
    for m in range(1, n + 1):
        if abs(answer) > _EP128:
            answer *= _EM128
            exponent += _E128
        answer *= m
    return _clip(math.ldexp(answer, exponent))


def _pomeranz_span(i: int, n: int, whole: int, ceilf: int, roundf: int) -> tuple[int, int]:
    """The first and last non-zero entries of row ``i`` of Pomeranz's recursion."""
    if i == 0:
        j1, j2 = -whole - ceilf - 1, whole + ceilf - 1
    else:
        half, odd = divmod(i + 1, 2)
        if odd == 0:
            if half == n + 1:
                j1, j2 = n - whole - ceilf - 1, n + whole + ceilf - 1
            else:
                j1, j2 = half - 1 - whole - roundf - 1, half + whole - 1 + ceilf - 1
        else:
            j1, j2 = half - 1 - whole - 1, half + whole + roundf - 1
    return max(j1 + 2, 0), min(j2, n)


def _pelz_good(n: int, d: float) -> float:
    """``P(D_n <= d)`` by the Pelz-Good expansion in ``1/sqrt(n)`` (Li-Chien and Korolyuk's asymptotic series
    rewritten through Jacobi's theta identity so that it converges for small ``z = d sqrt(n)``)."""
    z = math.sqrt(n) * d
    z2, z3, z4, z6 = z ** 2, z ** 3, z ** 4, z ** 6
    qlog = -_PI2 / 8 / z2
    if qlog < _MIN_LOG:
        return 0.0
    q = math.exp(qlog)
    k1a, k1b = -z2, _PI2 / 4
    k2a, k2b, k2c = 6 * z6 + 2 * z4, (2 * z4 - 5 * z2) * _PI2 / 4, _PI4 * (1 - 2 * z2) / 16
    k3d, k3c = _PI6 * (5 - 30 * z2) / 64, _PI4 * (-60 * z2 + 212 * z4) / 16
    k3b, k3a = _PI2 * (135 * z4 - 96 * z6) / 4, -30 * z6 - 90 * z ** 8
    terms = np.zeros(4)
    top = math.ceil(16 * z / math.pi)
    for k in range(top, 0, -1):  # Horner's scheme over the odd integers
        m = 2 * k - 1
        m2, m4, m6 = m ** 2, m ** 4, m ** 6
        terms *= np.power(q, 8 * k)
        terms += np.array([1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6])
    terms *= q * _SQRT2PI
    terms /= np.array([z, 6 * z4, 72 * z ** 7, 6480 * z ** 10])
    q = math.exp(-_PI2 / 2 / z2)
    ks = np.arange(top, 0, -1)
    ks2 = ks ** 2
    sqrt3z, kspi = math.sqrt(3) * z, math.pi * ks
    qpowers = q ** ks2
    terms[2] += float(np.sum(ks2 * qpowers)) * _PI2 * _SQRT2PI / (-36 * z3)
    terms[3] += float(np.sum((sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qpowers)) * _PI2 * _SQRT2PI / (216 * z6)
    terms /= np.power(n * 1.0, np.arange(4) / 2.0)
    return float(sum(terms))
