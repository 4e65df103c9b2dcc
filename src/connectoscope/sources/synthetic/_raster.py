"""Compiled kernels that turn the planned primitives into labels of one block.

A block is a box of voxels plus a halo; every kernel computes a voxel from global
primitives and global hashes only, so the result does not depend on the block or cube
layout. Rules:

* the centre of voxel ``g`` (global index, x, y, z) is at ``origin_nm + g * vs`` nm;
* a voxel belongs to the capsule with the smallest signed distance (distance to the axis
  minus the local radius) among those that contain it, ties to the earlier capsule; capsules
  of priority 1 (the whole neurons) beat every capsule of priority 0, so nothing cuts them;
* voxels inside no capsule belong to glia: a Voronoi partition of jittered seed points on
  a grid of ``glia_cell_nm``;
* the segmentation is the labels with 0 on cell membranes: where two voxels of different
  cells meet, the one of lower priority (the +x, +y or +z one on a tie) becomes 0, so no two
  cells ever share a face, a whole neuron keeps every voxel it has, and supervoxels of one
  cell touch directly (there is no membrane inside a cell).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._hash import position_key, uniform01

__all__ = ["fill_glia", "find_contacts", "mask_membranes", "splat_capsules"]


@njit(cache=True, nogil=True)
def splat_capsules(
    best: np.ndarray,
    lab: np.ndarray,
    origin: np.ndarray,
    org_nm: np.ndarray,
    vs: np.ndarray,
    p0: np.ndarray,
    p1: np.ndarray,
    r0: np.ndarray,
    r1: np.ndarray,
    sid: np.ndarray,
    prio: np.ndarray,
    order: np.ndarray,
) -> None:
    """Paint capsules ``order`` into ``lab`` [z, y, x] (block origin ``origin`` x,y,z voxels;
    capsule coordinates are taken relative to ``org_nm``, the centre of voxel 0)."""
    nz, ny, nx = lab.shape
    ox, oy, oz = origin[0], origin[1], origin[2]
    vx, vy, vz = vs[0], vs[1], vs[2]
    for q in order:
        ax, ay, az = p0[q, 0] - org_nm[0], p0[q, 1] - org_nm[1], p0[q, 2] - org_nm[2]
        bias = np.float32(1e6) if prio[q] else np.float32(0.0)
        abx, aby, abz = p1[q, 0] - ax, p1[q, 1] - ay, p1[q, 2] - az
        l2 = abx * abx + aby * aby + abz * abz
        ra, rdelta = r0[q], r1[q] - r0[q]
        rm = max(r0[q], r1[q])
        x0 = max(int(np.floor((min(ax, ax + abx) - rm) / vx)) - ox, 0)
        x1 = min(int(np.ceil((max(ax, ax + abx) + rm) / vx)) - ox + 1, nx)
        y0 = max(int(np.floor((min(ay, ay + aby) - rm) / vy)) - oy, 0)
        y1 = min(int(np.ceil((max(ay, ay + aby) + rm) / vy)) - oy + 1, ny)
        z0 = max(int(np.floor((min(az, az + abz) - rm) / vz)) - oz, 0)
        z1 = min(int(np.ceil((max(az, az + abz) + rm) / vz)) - oz + 1, nz)
        s = sid[q]
        # bounding sphere around the capsule: rows (fixed z, y) that miss it are skipped and
        # the x range of the others is cut to the chord
        mx, my, mz = 0.5 * abx, 0.5 * aby, 0.5 * abz
        br2 = (np.sqrt(l2) * 0.5 + rm) ** 2 + 1e-6
        ux = uy = uz = 0.0
        if l2 > 0.0:
            ln = np.sqrt(l2)
            ux, uy, uz = abx / ln, aby / ln, abz / ln
        for k in range(z0, z1):
            pz = (oz + k) * vz - az
            for j in range(y0, y1):
                py = (oy + j) * vy - ay
                rest = br2 - (py - my) ** 2 - (pz - mz) ** 2
                if rest <= 0.0:
                    continue
                half = np.sqrt(rest)
                xa = mx - half
                xb = mx + half
                if l2 > 0.0:
                    # and to the infinite cylinder of radius rm around the axis
                    w = py * uy + pz * uz
                    a2 = 1.0 - ux * ux
                    c2 = py * py + pz * pz - w * w - rm * rm
                    if a2 > 1e-9:
                        disc = (ux * w) ** 2 - a2 * c2
                        if disc < 0.0:
                            continue
                        sq = np.sqrt(disc)
                        xa = max(xa, (ux * w - sq) / a2)
                        xb = min(xb, (ux * w + sq) / a2)
                    elif c2 > 0.0:
                        continue
                i0 = max(x0, int(np.floor((ax + xa) / vx)) - ox)
                i1 = min(x1, int(np.ceil((ax + xb) / vx)) - ox + 1)
                for i in range(i0, i1):
                    px = (ox + i) * vx - ax
                    t = 0.0
                    if l2 > 0.0:
                        t = (px * abx + py * aby + pz * abz) / l2
                        if t < 0.0:
                            t = 0.0
                        elif t > 1.0:
                            t = 1.0
                    dx = px - t * abx
                    dy = py - t * aby
                    dz = pz - t * abz
                    d = np.float32(np.sqrt(dx * dx + dy * dy + dz * dz) - (ra + t * rdelta))
                    if d < 0.0:
                        d -= bias
                    if d < best[k, j, i]:
                        best[k, j, i] = d
                        lab[k, j, i] = s


@njit(cache=True, nogil=True)
def fill_glia(
    lab: np.ndarray,
    origin: np.ndarray,
    org_nm: np.ndarray,
    vs: np.ndarray,
    cell_nm: float,
    grid_shape: np.ndarray,
    first_id: int,
    seed_k: np.uint64,
) -> None:
    """Give every unlabelled voxel the id of its nearest jittered glia seed.

    Seed ``(cx, cy, cz)`` (grid cell of ``cell_nm``, shifted by 2 so indices are >= 0) sits
    at a hashed point of its cell; its glia id is ``first_id`` plus the cell's linear index.
    """
    nz, ny, nx = lab.shape
    gx, gy = grid_shape[0], grid_shape[1]
    c0 = np.empty(3, np.int64)
    c1 = np.empty(3, np.int64)
    for a in range(3):
        n = (nx, ny, nz)[a]
        c0[a] = int(np.floor((org_nm[a] + origin[a] * vs[a]) / cell_nm)) - 1
        c1[a] = int(np.floor((org_nm[a] + (origin[a] + n - 1) * vs[a]) / cell_nm)) + 2
    mx, my, mz = c1[0] - c0[0], c1[1] - c0[1], c1[2] - c0[2]
    seeds = np.empty((mz, my, mx, 3))
    ids = np.empty((mz, my, mx), np.int64)
    for zz in range(mz):
        for yy in range(my):
            for xx in range(mx):
                cx, cy, cz = c0[0] + xx, c0[1] + yy, c0[2] + zz
                ux, uy, uz = cx + 2, cy + 2, cz + 2
                h = position_key(seed_k, ux, uy, uz)
                seeds[zz, yy, xx, 0] = (cx + 0.1 + 0.8 * uniform01(h)) * cell_nm
                h = position_key(h, 1, 2, 3)
                seeds[zz, yy, xx, 1] = (cy + 0.1 + 0.8 * uniform01(h)) * cell_nm
                h = position_key(h, 4, 5, 6)
                seeds[zz, yy, xx, 2] = (cz + 0.1 + 0.8 * uniform01(h)) * cell_nm
                ids[zz, yy, xx] = first_id + (uz * gy + uy) * gx + ux
    for k in range(nz):
        pz = org_nm[2] + (origin[2] + k) * vs[2]
        cz = int(np.floor(pz / cell_nm)) - c0[2]
        for j in range(ny):
            py = org_nm[1] + (origin[1] + j) * vs[1]
            cy = int(np.floor(py / cell_nm)) - c0[1]
            for i in range(nx):
                if lab[k, j, i] != 0:
                    continue
                px = org_nm[0] + (origin[0] + i) * vs[0]
                cx = int(np.floor(px / cell_nm)) - c0[0]
                # own cell first; a neighbour is only measured when the box its seed can lie
                # in (the inner 80 % of the cell) is nearer than the best so far
                bid = ids[cz, cy, cx]
                bd = (
                    (px - seeds[cz, cy, cx, 0]) ** 2
                    + (py - seeds[cz, cy, cx, 1]) ** 2
                    + (pz - seeds[cz, cy, cx, 2]) ** 2
                )
                fx = px / cell_nm - (cx + c0[0])
                fy = py / cell_nm - (cy + c0[1])
                fz = pz / cell_nm - (cz + c0[2])
                for zz in range(cz - 1, cz + 2):
                    gz = 0.0
                    if zz < cz:
                        gz = (fz + 0.1) * cell_nm
                    elif zz > cz:
                        gz = (1.1 - fz) * cell_nm
                    for yy in range(cy - 1, cy + 2):
                        gy2 = 0.0
                        if yy < cy:
                            gy2 = (fy + 0.1) * cell_nm
                        elif yy > cy:
                            gy2 = (1.1 - fy) * cell_nm
                        lb_zy = gz * gz + gy2 * gy2
                        if lb_zy >= bd:
                            continue
                        for xx in range(cx - 1, cx + 2):
                            if xx == cx and yy == cy and zz == cz:
                                continue
                            gx2 = 0.0
                            if xx < cx:
                                gx2 = (fx + 0.1) * cell_nm
                            elif xx > cx:
                                gx2 = (1.1 - fx) * cell_nm
                            if lb_zy + gx2 * gx2 >= bd:
                                continue
                            d = (
                                (px - seeds[zz, yy, xx, 0]) ** 2
                                + (py - seeds[zz, yy, xx, 1]) ** 2
                                + (pz - seeds[zz, yy, xx, 2]) ** 2
                            )
                            if d < bd:
                                bd = d
                                bid = ids[zz, yy, xx]
                lab[k, j, i] = bid


@njit(cache=True, nogil=True)
def mask_membranes(
    lab: np.ndarray, seg: np.ndarray, memb: np.ndarray, cell_key: np.ndarray, prio: np.ndarray
) -> None:
    """``seg = lab`` except 0 on cell membranes; ``memb`` 1 where a membrane crosses the
    section (an x or y neighbour caused it), 2 where it runs along it (z only), else 0.

    A voxel becomes 0 when a face neighbour belongs to another cell (``cell_key`` of the
    labels differ) of higher priority, or of equal priority on its +x, +y or +z side. The
    outermost layer of the block is left 0.
    """
    nz, ny, nx = lab.shape
    for k in range(1, nz - 1):
        for j in range(1, ny - 1):
            for i in range(1, nx - 1):
                a = lab[k, j, i]
                ka = cell_key[a]
                pa = prio[a]
                hit = 0
                for e in range(6):
                    kk, jj, ii = k, j, i
                    plus = e % 2 == 0
                    step = 1 if plus else -1
                    if e < 2:
                        ii += step
                    elif e < 4:
                        jj += step
                    else:
                        kk += step
                    b = lab[kk, jj, ii]
                    if b == a:
                        continue
                    kb = cell_key[b]
                    if kb == ka:
                        continue
                    pb = prio[b]
                    if pb > pa or (pb == pa and plus):
                        if e < 4:
                            hit = 1
                            break
                        hit = 2
                if hit:
                    seg[k, j, i] = 0
                    memb[k, j, i] = hit
                else:
                    seg[k, j, i] = a
                    memb[k, j, i] = 0


@njit(cache=True, nogil=True)
def _record(
    s: int,
    k: int,
    j: int,
    i: int,
    seg: np.ndarray,
    origin: np.ndarray,
    vol: np.ndarray,
    org_nm: np.ndarray,
    vs: np.ndarray,
    pre: np.ndarray,
    post: np.ndarray,
    contact: np.ndarray,
    count: np.ndarray,
    best: np.ndarray,
    best_pos: np.ndarray,
) -> None:
    count[s] += 1
    gx, gy, gz = origin[0] + i, origin[1] + j, origin[2] + k
    has_pre = False
    has_post = False
    for dz in range(-1, 2):
        if gz + dz < 0 or gz + dz >= vol[2]:
            continue
        for dy in range(-1, 2):
            if gy + dy < 0 or gy + dy >= vol[1]:
                continue
            for dx in range(-1, 2):
                if gx + dx < 0 or gx + dx >= vol[0]:
                    continue
                v = seg[k + dz, j + dy, i + dx]
                if v == pre[s]:
                    has_pre = True
                elif v == post[s]:
                    has_post = True
    if not (has_pre and has_post):
        return
    ddx = org_nm[0] + gx * vs[0] - contact[s, 0]
    ddy = org_nm[1] + gy * vs[1] - contact[s, 1]
    ddz = org_nm[2] + gz * vs[2] - contact[s, 2]
    d = ddx * ddx + ddy * ddy + ddz * ddz
    b = best[s]
    earlier = gz < best_pos[s, 2] or (
        gz == best_pos[s, 2]
        and (gy < best_pos[s, 1] or (gy == best_pos[s, 1] and gx < best_pos[s, 0]))
    )
    if d < b or (d == b and earlier):
        best[s] = d
        best_pos[s, 0] = gx
        best_pos[s, 1] = gy
        best_pos[s, 2] = gz


@njit(cache=True, nogil=True)
def find_contacts(
    lab: np.ndarray,
    seg: np.ndarray,
    halo: int,
    origin: np.ndarray,
    vol: np.ndarray,
    org_nm: np.ndarray,
    vs: np.ndarray,
    syn_of: np.ndarray,
    pre: np.ndarray,
    post: np.ndarray,
    contact: np.ndarray,
    count: np.ndarray,
    best: np.ndarray,
    best_pos: np.ndarray,
    seen: np.ndarray,
) -> None:
    """Measure planned synapses in the block interior and mark the segment ids present.

    ``count[s]`` grows by the number of voxel faces where the bouton ``pre[s]`` meets its
    target ``post[s]``; ``best_pos[s]`` keeps the face voxel closest to the planned contact
    whose 3x3x3 neighbourhood in ``seg`` holds both ids (ties to the smaller z, y, x).
    """
    nz, ny, nx = lab.shape
    nsyn = syn_of.shape[0]
    for k in range(halo, nz - halo):
        for j in range(halo, ny - halo):
            for i in range(halo, nx - halo):
                seen[seg[k, j, i]] = True
                a = lab[k, j, i]
                for e in range(3):
                    k2, j2, i2 = k, j, i
                    if e == 0:
                        i2 += 1
                        if origin[0] + i2 >= vol[0]:
                            continue
                    elif e == 1:
                        j2 += 1
                        if origin[1] + j2 >= vol[1]:
                            continue
                    else:
                        k2 += 1
                        if origin[2] + k2 >= vol[2]:
                            continue
                    b = lab[k2, j2, i2]
                    if a == b:
                        continue
                    if a < nsyn:
                        s = syn_of[a]
                        if s >= 0 and post[s] == b:
                            _record(
                                s,
                                k,
                                j,
                                i,
                                seg,
                                origin,
                                vol,
                                org_nm,
                                vs,
                                pre,
                                post,
                                contact,
                                count,
                                best,
                                best_pos,
                            )
                    if b < nsyn:
                        s = syn_of[b]
                        if s >= 0 and post[s] == a:
                            _record(
                                s,
                                k,
                                j,
                                i,
                                seg,
                                origin,
                                vol,
                                org_nm,
                                vs,
                                pre,
                                post,
                                contact,
                                count,
                                best,
                                best_pos,
                            )
