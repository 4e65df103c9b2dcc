"""Compiled kernels of :mod:`._simplify` (numba, module level so the on-disk cache holds
across processes; imported only when a mesh is simplified)."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True, boundscheck=False)


@jit
def qerr(q: Any, x: float, y: float, z: float) -> float:  # pragma: no cover - compiled
    # q: a, b, c, d as (aa, ab, ac, ad, bb, bc, bd, cc, cd, dd)
    return (
        q[0] * x * x + 2 * q[1] * x * y + 2 * q[2] * x * z + 2 * q[3] * x
        + q[4] * y * y + 2 * q[5] * y * z + 2 * q[6] * y
        + q[7] * z * z + 2 * q[8] * z + q[9]
    )  # fmt: skip


@jit
def mark_ring(
    v: int, stamp: int, F: Any, fdel: Any, tstart: Any, tcount: Any, rf: Any, mark: Any
) -> None:  # pragma: no cover - compiled
    """``mark[u] = stamp`` for ``v`` and every vertex of its live triangles."""
    for r in range(tstart[v], tstart[v] + tcount[v]):
        g = rf[r]
        if fdel[g]:
            continue
        for k in range(3):
            mark[F[g, k]] = stamp


@jit
def compact(
    F: Any, fdel: Any, nv: int, tstart: Any, tcount: Any, rf: Any, rc: Any
) -> int:  # pragma: no cover
    tcount[:] = 0
    for f in range(F.shape[0]):
        if fdel[f]:
            continue
        for c in range(3):
            tcount[F[f, c]] += 1
    s = 0
    for v in range(nv):
        tstart[v] = s
        s += tcount[v]
    fill = tstart.copy()
    for f in range(F.shape[0]):
        if fdel[f]:
            continue
        for c in range(3):
            v = F[f, c]
            rf[fill[v]] = f
            rc[fill[v]] = c
            fill[v] += 1
    return s


@jit
def quadrics(V: Any, F: Any) -> Any:  # pragma: no cover - compiled
    nv = V.shape[0]
    nf = F.shape[0]
    Q = np.zeros((nv, 10))
    for f in range(nf):
        i0, i1, i2 = F[f, 0], F[f, 1], F[f, 2]
        ux = V[i1, 0] - V[i0, 0]
        uy = V[i1, 1] - V[i0, 1]
        uz = V[i1, 2] - V[i0, 2]
        wx = V[i2, 0] - V[i0, 0]
        wy = V[i2, 1] - V[i0, 1]
        wz = V[i2, 2] - V[i0, 2]
        nx = uy * wz - uz * wy
        ny = uz * wx - ux * wz
        nz = ux * wy - uy * wx
        ln = np.sqrt(nx * nx + ny * ny + nz * nz)
        if ln == 0.0:
            continue
        a = nx / ln
        b = ny / ln
        c = nz / ln
        d = -(a * V[i0, 0] + b * V[i0, 1] + c * V[i0, 2])
        for k in range(3):
            q = Q[F[f, k]]
            q[0] += a * a
            q[1] += a * b
            q[2] += a * c
            q[3] += a * d
            q[4] += b * b
            q[5] += b * c
            q[6] += b * d
            q[7] += c * c
            q[8] += c * d
            q[9] += d * d
    W = np.zeros(nv)
    for f in range(nf):
        for k in range(3):
            W[F[f, k]] += 1.0
    return Q, W


@jit
def edge_cost(
    V: Any, Q: Any, W: Any, fixed: Any, a: int, b: int, qb: Any, best: Any
) -> Any:  # pragma: no cover
    # returns (error normalised by the merged weight, surviving vertex); fills qb, best
    q = qb
    for k in range(10):
        qb[k] = Q[a, k] + Q[b, k]
    # candidate positions
    be = np.inf
    surv = a
    if fixed[a] or fixed[b]:
        surv = a if fixed[a] else b
        for k in range(3):
            best[k] = V[surv, k]
        be = qerr(q, best[0], best[1], best[2])
    else:
        # quadric optimum (Cramer's rule on the 3x3 system)
        a00, a01, a02, a11, a12, a22 = q[0], q[1], q[2], q[4], q[5], q[7]
        det = (
            a00 * (a11 * a22 - a12 * a12)
            - a01 * (a01 * a22 - a12 * a02)
            + a02 * (a01 * a12 - a11 * a02)
        )
        ex = V[b, 0] - V[a, 0]
        ey = V[b, 1] - V[a, 1]
        ez = V[b, 2] - V[a, 2]
        el2 = ex * ex + ey * ey + ez * ez
        if abs(det) > 1e-6:
            b0, b1, b2 = -q[3], -q[6], -q[8]
            x = (
                b0 * (a11 * a22 - a12 * a12)
                - a01 * (b1 * a22 - a12 * b2)
                + a02 * (b1 * a12 - a11 * b2)
            ) / det
            y = (
                a00 * (b1 * a22 - a12 * b2)
                - b0 * (a01 * a22 - a12 * a02)
                + a02 * (a01 * b2 - b1 * a02)
            ) / det
            z = (
                a00 * (a11 * b2 - b1 * a12)
                - a01 * (a01 * b2 - b1 * a02)
                + b0 * (a01 * a12 - a11 * a02)
            ) / det
            mx = x - 0.5 * (V[a, 0] + V[b, 0])
            my = y - 0.5 * (V[a, 1] + V[b, 1])
            mz = z - 0.5 * (V[a, 2] + V[b, 2])
            if mx * mx + my * my + mz * mz <= el2:
                e = qerr(q, x, y, z)
                if e < be:
                    be = e
                    best[0], best[1], best[2] = x, y, z
        for t in range(3):
            w = 0.5 * t
            x = V[a, 0] + w * ex
            y = V[a, 1] + w * ey
            z = V[a, 2] + w * ez
            e = qerr(q, x, y, z)
            if e < be:
                be = e
                best[0], best[1], best[2] = x, y, z
        ea = qerr(q, V[a, 0], V[a, 1], V[a, 2])
        eb = qerr(q, V[b, 0], V[b, 1], V[b, 2])
        surv = a if ea <= eb else b
    return be / (W[a] + W[b]), surv


@jit
def simplify(
    V: Any, F: Any, fixed: Any, max_err2: float, Qin: Any, Win: Any, levels: int, sweeps: int
) -> Any:  # pragma: no cover
    nv = V.shape[0]
    nf = F.shape[0]
    if Qin.shape[0] == nv:
        Q = Qin.copy()
        W = Win.copy()
    else:
        Q, W = quadrics(V, F)
    fdel = np.zeros(nf, np.bool_)
    err = np.empty((nf, 3))
    dirty = np.full(nf, 7, np.uint8)
    cap = 6 * nf + 64
    rf = np.empty(cap, np.int64)
    rc = np.empty(cap, np.int8)
    tstart = np.zeros(nv, np.int64)
    tcount = np.zeros(nv, np.int64)
    rtop = compact(F, fdel, nv, tstart, tcount, rf, rc)
    mark = np.zeros(nv, np.int64)
    stamp = 0
    live = nf
    qb = np.empty(10)
    best = np.empty(3)
    for level in range(levels):
        thr = max_err2 / (4.0 ** (levels - 1 - level))
        for _sweep in range(sweeps):
            done = 0
            for f in range(nf):
                if fdel[f]:
                    continue
                for j in range(3):
                    a = F[f, j]
                    b = F[f, (j + 1) % 3]
                    if a > b or (fixed[a] and fixed[b]):
                        continue
                    if dirty[f] & (1 << j):
                        err[f, j], _s = edge_cost(V, Q, W, fixed, a, b, qb, best)
                        dirty[f] &= ~np.uint8(1 << j)
                    if err[f, j] > thr:
                        continue
                    be, surv = edge_cost(V, Q, W, fixed, a, b, qb, best)
                    q = qb
                    if be > thr:
                        continue
                    o = b if surv == a else a
                    # link condition: exactly the two opposite vertices are common
                    stamp += 1
                    mark_ring(a, stamp, F, fdel, tstart, tcount, rf, mark)
                    common = 0
                    stamp += 1
                    for r in range(tstart[b], tstart[b] + tcount[b]):
                        g = rf[r]
                        if fdel[g]:
                            continue
                        for k in range(3):
                            u = F[g, k]
                            if u != a and u != b and mark[u] == stamp - 1:
                                mark[u] = stamp
                                common += 1
                    if common != 2:
                        continue
                    ok = True
                    if fixed[surv]:
                        # no new edge between two fixed (seam) vertices: the next block may
                        # make the same chord, and stitched, that edge would have 4 triangles
                        stamp += 1
                        mark_ring(surv, stamp, F, fdel, tstart, tcount, rf, mark)
                        for r in range(tstart[o], tstart[o] + tcount[o]):
                            g = rf[r]
                            if fdel[g]:
                                continue
                            for k in range(3):
                                u = F[g, k]
                                if u != o and fixed[u] and mark[u] != stamp:
                                    ok = False
                    if not ok:
                        continue
                    # the two opposite vertices keep three or more triangles
                    for r in range(tstart[b], tstart[b] + tcount[b]):
                        g = rf[r]
                        if fdel[g]:
                            continue
                        has_a = F[g, 0] == a or F[g, 1] == a or F[g, 2] == a
                        if not has_a:
                            continue
                        for k in range(3):
                            u = F[g, k]
                            if u != a and u != b:
                                n_u = 0
                                for r2 in range(tstart[u], tstart[u] + tcount[u]):
                                    if not fdel[rf[r2]]:
                                        n_u += 1
                                if n_u <= 3:
                                    ok = False
                    if not ok:
                        continue
                    # no triangle of a or b (other than the two removed) flips
                    for side in range(2):
                        w0 = a if side == 0 else b
                        w1 = b if side == 0 else a
                        for r in range(tstart[w0], tstart[w0] + tcount[w0]):
                            g = rf[r]
                            if fdel[g]:
                                continue
                            if F[g, 0] == w1 or F[g, 1] == w1 or F[g, 2] == w1:
                                continue
                            c = rc[r]
                            u = F[g, (c + 1) % 3]
                            w = F[g, (c + 2) % 3]
                            ux = V[u, 0] - V[w0, 0]
                            uy = V[u, 1] - V[w0, 1]
                            uz = V[u, 2] - V[w0, 2]
                            wx = V[w, 0] - V[w0, 0]
                            wy = V[w, 1] - V[w0, 1]
                            wz = V[w, 2] - V[w0, 2]
                            n0x = uy * wz - uz * wy
                            n0y = uz * wx - ux * wz
                            n0z = ux * wy - uy * wx
                            ux = V[u, 0] - best[0]
                            uy = V[u, 1] - best[1]
                            uz = V[u, 2] - best[2]
                            wx = V[w, 0] - best[0]
                            wy = V[w, 1] - best[1]
                            wz = V[w, 2] - best[2]
                            n1x = uy * wz - uz * wy
                            n1y = uz * wx - ux * wz
                            n1z = ux * wy - uy * wx
                            l0 = np.sqrt(n0x * n0x + n0y * n0y + n0z * n0z)
                            l1 = np.sqrt(n1x * n1x + n1y * n1y + n1z * n1z)
                            if l1 <= 1e-12 * (l0 + 1e-300):
                                ok = False
                                break
                            if n0x * n1x + n0y * n1y + n0z * n1z < 0.2 * l0 * l1:
                                ok = False
                                break
                        if not ok:
                            break
                    if not ok:
                        continue
                    # collapse o into surv
                    if rtop + tcount[a] + tcount[b] > cap:
                        rtop = compact(F, fdel, nv, tstart, tcount, rf, rc)
                    for r in range(tstart[o], tstart[o] + tcount[o]):
                        g = rf[r]
                        if fdel[g]:
                            continue
                        if F[g, 0] == surv or F[g, 1] == surv or F[g, 2] == surv:
                            fdel[g] = True
                            live -= 1
                    start = rtop
                    for r in range(tstart[surv], tstart[surv] + tcount[surv]):
                        g = rf[r]
                        if not fdel[g]:
                            rf[rtop] = g
                            rc[rtop] = rc[r]
                            rtop += 1
                    for r in range(tstart[o], tstart[o] + tcount[o]):
                        g = rf[r]
                        if not fdel[g]:
                            F[g, rc[r]] = surv
                            rf[rtop] = g
                            rc[rtop] = rc[r]
                            rtop += 1
                    tstart[surv] = start
                    tcount[surv] = rtop - start
                    tcount[o] = 0
                    V[surv, 0], V[surv, 1], V[surv, 2] = best[0], best[1], best[2]
                    for k in range(10):
                        Q[surv, k] = q[k]
                    W[surv] = W[a] + W[b]
                    for r in range(tstart[surv], tstart[surv] + tcount[surv]):
                        dirty[rf[r]] = 7
                    done += 1
                    break  # this triangle changed: next triangle
            if done <= live // 200:
                break
    # compact: live faces, used vertices in first-use order
    newid = np.full(nv, -1, np.int64)
    nout = 0
    fo = np.empty((live, 3), np.int64)
    k = 0
    for f in range(nf):
        if fdel[f]:
            continue
        for c in range(3):
            v = F[f, c]
            if newid[v] < 0:
                newid[v] = nout
                nout += 1
            fo[k, c] = newid[v]
        k += 1
    vo = np.empty((nout, 3))
    src = np.empty(nout, np.int64)
    qo = np.empty((nout, 10))
    wo = np.empty(nout)
    for v in range(nv):
        if newid[v] >= 0:
            vo[newid[v]] = V[v]
            src[newid[v]] = v
            qo[newid[v]] = Q[v]
            wo[newid[v]] = W[v]
    return vo, fo, src, qo, wo
