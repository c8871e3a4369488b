/* linalg.c - top-k singular triplets by randomized subspace iteration.
 *
 * The method (Halko, Martinsson, Tropp 2011, algorithm 4.4):
 *   Z0 = orth(Omega)                     Omega (n, l) Gaussian, l = k + p
 *   Q  = orth(M Z0)                      (m, l)
 *   repeat: Z = orth(M^T Q); Q = orth(M Z)
 *   B  = Q^T M (l, n);  B = J diag(sigma) V^T by one-sided Jacobi;  U = Q J.
 * Accuracy choices, all measured by tests/test_linalg.c against LAPACK:
 *   - Everything but M itself is double: the bases, the products' sums, the
 *     Jacobi rotations. M stays f32 (it is |R|, up to 4096 x 14336).
 *   - No Gram matrix is formed: the final small SVD is a one-sided (Hestenes)
 *     Jacobi on the rows of B, which keeps the relative accuracy of small
 *     singular values instead of squaring the condition number.
 *   - Re-orthonormalisation every half step by modified Gram-Schmidt applied
 *     twice ("twice is enough"), so a dominant sigma_1 cannot swamp the rest.
 *   - The number of power iterations adapts: after each one the Ritz values
 *     (singular values of the R factor of M Z, Z orthonormal) are compared
 *     with the previous ones; it stops when the top k all moved by less than
 *     tol relative, between min_iter and max_iter iterations.
 *
 * Storage: every basis is kept transposed, one vector per row (Qt (l, m),
 * Zt (l, n)), so that orthonormalisation and both products run their inner
 * loops over contiguous memory of M's rows and of the vectors.
 *
 * Determinism: the start comes from splitmix64 + Box-Muller through the
 * portable bs_log_d / bs_sincos_d (mathfn.h), every sum has a fixed order and
 * the build forbids FMA contraction, so the same input gives the same bits on
 * every IEEE platform. Reentrant: no globals; callers may run one matrix per
 * thread. */
#include "decompose.h"

#include "mathfn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Columns of M processed per tile: a tile of the l basis vectors (l * 1024
   doubles, 192 KiB for l = 24) stays in L2 while every row of M passes. */
#define TILE 1024
/* Rows of M per register block in the products. */
#define RB 4

/* The two products with M are nearly all the time. On x86-64 with GCC they
   are also compiled for AVX2 and picked at load time (ifunc). The results
   are bit-identical to the baseline version: every sum is written with
   explicit independent lanes, nothing is reassociated, and the build
   forbids FMA contraction, so wider vectors only run more lanes at once
   (measured 1.6x on 1536 x 576). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define BS_HOT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define BS_HOT_CLONES
#endif

bs_svd_opts bs_svd_default_opts(void) {
    bs_svd_opts o;
    o.oversample = 8;
    o.min_iter = 2;
    o.max_iter = 24;
    o.tol = 1e-5;
    return o;
}

/* ---- random start -------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]: never 0, so the logarithm below is finite. */
static double uniform01(uint64_t *state) {
    return (double)((splitmix64(state) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

/* x (len) filled with standard normal samples, two per Box-Muller draw. */
static void gaussian_fill(double *x, size_t len, uint64_t *state) {
    for (size_t i = 0; i < len; i += 2) {
        double r = sqrt(-2.0 * bs_log_d(uniform01(state)));
        double sn, cs;
        bs_sincos_d(6.283185307179586 * uniform01(state), &sn, &cs);
        x[i] = r * cs;
        if (i + 1 < len) x[i + 1] = r * sn;
    }
}

/* ---- vector kernels (double, fixed 4-lane order so they vectorise) -------- */

static double dot_d(const double *a, const double *b, size_t len) {
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int t = 0; t < 4; t++) acc[t] += a[i + t] * b[i + t];
    double s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for (; i < len; i++) s += a[i] * b[i];
    return s;
}

static void axpy_d(double alpha, const double *x, double *y, size_t len) {
    for (size_t i = 0; i < len; i++) y[i] += alpha * x[i];
}

/* ---- the two products with M --------------------------------------------- */

/* Copies rows [i, i + rows) x columns [j0, j0 + jn) of M to rb (rows,
   jn) as doubles: each converted once per tile instead of once per basis
   vector. */
static void load_rows(const float *M, int32_t n, int32_t i, int32_t rows, int32_t j0, int32_t jn,
                      double *rb) {
    for (int32_t r = 0; r < rows; r++) {
        const float *src = M + (size_t)(i + r) * n + j0;
        double *dst = rb + (size_t)r * jn;
        for (int32_t j = 0; j < jn; j++) dst[j] = (double)src[j];
    }
}

/* Yt (l, m) = (M Z)^T with Zt (l, n): Yt[c][i] = sum_j M[i][j] Zt[c][j].
   Axpy form, like mul_mtq, because a dot-product form of this multiply
   vectorises badly: Z is first transposed to Zr (n, l) so that row i of M
   scales whole rows of Zr into the running row Yr[i] (l, contiguous),
   four columns of M at a time; tiles of TILE columns keep the part of Zr
   in use (TILE * l doubles) in L2. The order per element is fixed:
   ((m0 z0 + m1 z1) + (m2 z2 + m3 z3)) added to the running sum, columns
   ascending. Scratch: Zr (n, l), Yr (m, l). */
BS_HOT_CLONES
static void mul_mz(const float *M, int32_t m, int32_t n, const double *Zt, int32_t l, double *Yt,
                   double *Zr, double *Yr) {
    for (int32_t c = 0; c < l; c++)
        for (int32_t j = 0; j < n; j++) Zr[(size_t)j * l + c] = Zt[(size_t)c * n + j];
    memset(Yr, 0, (size_t)m * l * sizeof(double));
    for (int32_t j0 = 0; j0 < n; j0 += TILE) {
        int32_t j1 = BS_MIN(n, j0 + TILE);
        int32_t i = 0;
        for (; i + 2 <= m; i += 2) { /* two rows share each load of Zr */
            const float *ra = M + (size_t)i * n, *rb2 = ra + n;
            double *ya = Yr + (size_t)i * l, *yb = ya + l;
            int32_t j = j0;
            for (; j + 4 <= j1; j += 4) {
                double a0 = ra[j], a1 = ra[j + 1], a2 = ra[j + 2], a3 = ra[j + 3];
                double b0 = rb2[j], b1 = rb2[j + 1], b2 = rb2[j + 2], b3 = rb2[j + 3];
                const double *z0 = Zr + (size_t)j * l, *z1 = z0 + l, *z2 = z1 + l, *z3 = z2 + l;
                for (int32_t c = 0; c < l; c++) {
                    double w0 = z0[c], w1 = z1[c], w2 = z2[c], w3 = z3[c];
                    ya[c] += (a0 * w0 + a1 * w1) + (a2 * w2 + a3 * w3);
                    yb[c] += (b0 * w0 + b1 * w1) + (b2 * w2 + b3 * w3);
                }
            }
            for (; j < j1; j++) {
                axpy_d((double)ra[j], Zr + (size_t)j * l, ya, (size_t)l);
                axpy_d((double)rb2[j], Zr + (size_t)j * l, yb, (size_t)l);
            }
        }
        for (; i < m; i++) {
            const float *row = M + (size_t)i * n;
            double *y = Yr + (size_t)i * l;
            int32_t j = j0;
            for (; j + 4 <= j1; j += 4) {
                double m0 = row[j], m1 = row[j + 1], m2 = row[j + 2], m3 = row[j + 3];
                const double *z0 = Zr + (size_t)j * l, *z1 = z0 + l, *z2 = z1 + l, *z3 = z2 + l;
                for (int32_t c = 0; c < l; c++)
                    y[c] += (m0 * z0[c] + m1 * z1[c]) + (m2 * z2[c] + m3 * z3[c]);
            }
            for (; j < j1; j++) axpy_d((double)row[j], Zr + (size_t)j * l, y, (size_t)l);
        }
    }
    for (int32_t i = 0; i < m; i++)
        for (int32_t c = 0; c < l; c++) Yt[(size_t)c * m + i] = Yr[(size_t)i * l + c];
}

/* Zt (l, n) = (M^T Q)^T with Qt (l, m): Zt[c][j] = sum_i M[i][j] Qt[c][i].
   Row-axpy form: RB rows of M (as doubles in rb) are scaled into every
   basis vector at once, so a tile of Zt is loaded and stored once per RB
   rows; the order per element is ((q0 r0 + q1 r1) + (q2 r2 + q3 r3)) added
   to the running sum, rows ascending. */
BS_HOT_CLONES
static void mul_mtq(const float *M, int32_t m, int32_t n, const double *Qt, int32_t l, double *Zt,
                    double *rb) {
    memset(Zt, 0, (size_t)l * n * sizeof(double));
    for (int32_t j0 = 0; j0 < n; j0 += TILE) {
        int32_t jn = BS_MIN(n - j0, TILE);
        for (int32_t i = 0; i < m; i += RB) {
            int32_t rows = BS_MIN(RB, m - i);
            load_rows(M, n, i, rows, j0, jn, rb);
            const double *r0 = rb, *r1 = r0 + jn, *r2 = r1 + jn, *r3 = r2 + jn;
            for (int32_t c = 0; c < l; c++) {
                const double *q = Qt + (size_t)c * m + i;
                double *z = Zt + (size_t)c * n + j0;
                if (rows == RB) {
                    double q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3];
                    for (int32_t j = 0; j < jn; j++)
                        z[j] += (q0 * r0[j] + q1 * r1[j]) + (q2 * r2[j] + q3 * r3[j]);
                } else {
                    for (int32_t r = 0; r < rows; r++) axpy_d(q[r], rb + (size_t)r * jn, z, (size_t)jn);
                }
            }
        }
    }
}

/* ---- orthonormalisation ---------------------------------------------------- */

/* Orthonormalises the l rows of X (l, len) in place by modified
   Gram-Schmidt applied twice. R (l, l) row-major, if not NULL, receives the
   upper-triangular factor: X_before^T = X_after^T R. A row whose norm falls
   below 1e-13 of its norm before projection is numerically in the span of
   the previous ones (M is rank deficient there): it is replaced by the first
   canonical vector e_t that survives projection (that always exists, since
   l <= len), and its diagonal entry of R is 0. */
static void orthonormalise(double *X, int32_t l, size_t len, double *R) {
    if (R) memset(R, 0, (size_t)l * l * sizeof(double));
    size_t next_e = 0;
    for (int32_t c = 0; c < l; c++) {
        double *x = X + (size_t)c * len;
        double before = sqrt(dot_d(x, x, len));
        for (int pass = 0; pass < 2; pass++)
            for (int32_t d = 0; d < c; d++) {
                const double *q = X + (size_t)d * len;
                double r = dot_d(q, x, len);
                axpy_d(-r, q, x, len);
                if (R) R[(size_t)d * l + c] += r;
            }
        double nrm = sqrt(dot_d(x, x, len));
        if (nrm > 1e-13 * before && nrm > 0.0) {
            double inv = 1.0 / nrm;
            for (size_t t = 0; t < len; t++) x[t] *= inv;
            if (R) R[(size_t)c * l + c] = nrm;
            continue;
        }
        /* Deficient: complete the basis with a canonical vector. After two
           projections of a unit e_t, a norm above 1/2 is a safe pick. */
        for (;; next_e = (next_e + 1) % len) {
            memset(x, 0, len * sizeof(double));
            x[next_e] = 1.0;
            for (int pass = 0; pass < 2; pass++)
                for (int32_t d = 0; d < c; d++) {
                    const double *q = X + (size_t)d * len;
                    axpy_d(-dot_d(q, x, len), q, x, len);
                }
            nrm = sqrt(dot_d(x, x, len));
            if (nrm > 0.5) break;
        }
        next_e = (next_e + 1) % len;
        for (size_t t = 0; t < len; t++) x[t] /= nrm;
        if (R) R[(size_t)c * l + c] = 0.0;
    }
}

/* ---- one-sided Jacobi ------------------------------------------------------ */

/* Rotates pairs of the l rows of X (l, len) until they are mutually
   orthogonal (|x_p . x_q| <= 1e-15 ||x_p|| ||x_q||); then X = J^T X_before
   with J orthogonal, and the row norms are the singular values of
   X_before. Jt (l, l), if not NULL, starts as the identity and receives
   J^T: the same rotations applied to its rows. Cyclic by rows, at most 60
   sweeps (convergence is quadratic; 6-10 sweeps is usual). */
static void jacobi_rows(double *X, int32_t l, size_t len, double *Jt) {
    if (Jt) {
        memset(Jt, 0, (size_t)l * l * sizeof(double));
        for (int32_t c = 0; c < l; c++) Jt[(size_t)c * l + c] = 1.0;
    }
    for (int sweep = 0; sweep < 60; sweep++) {
        int rotated = 0;
        for (int32_t p = 0; p + 1 < l; p++)
            for (int32_t q = p + 1; q < l; q++) {
                double *xp = X + (size_t)p * len, *xq = X + (size_t)q * len;
                double alpha = dot_d(xp, xp, len), beta = dot_d(xq, xq, len);
                double gamma = dot_d(xp, xq, len);
                if (!(fabs(gamma) > 1e-15 * sqrt(alpha) * sqrt(beta))) continue;
                /* The rotation that zeroes gamma (Rutishauser's stable form). */
                double zeta = (beta - alpha) / (2.0 * gamma);
                double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1.0 + zeta * zeta));
                double cs = 1.0 / sqrt(1.0 + t * t), sn = cs * t;
                for (size_t i = 0; i < len; i++) {
                    double a = xp[i], b = xq[i];
                    xp[i] = cs * a - sn * b;
                    xq[i] = sn * a + cs * b;
                }
                if (Jt) {
                    double *jp = Jt + (size_t)p * l, *jq = Jt + (size_t)q * l;
                    for (int32_t i = 0; i < l; i++) {
                        double a = jp[i], b = jq[i];
                        jp[i] = cs * a - sn * b;
                        jq[i] = sn * a + cs * b;
                    }
                }
                rotated = 1;
            }
        if (!rotated) break;
    }
}

/* Row norms of X (l, len) sorted descending into sig, with their row
   indices in order (stable: ties keep the lower index first). */
static void sorted_norms(const double *X, int32_t l, size_t len, double *sig, int32_t *order) {
    for (int32_t c = 0; c < l; c++) {
        double v = sqrt(dot_d(X + (size_t)c * len, X + (size_t)c * len, len));
        int32_t at = c;
        while (at > 0 && sig[at - 1] < v) {
            sig[at] = sig[at - 1];
            order[at] = order[at - 1];
            at--;
        }
        sig[at] = v;
        order[at] = c;
    }
}

/* Singular values (descending) of the upper-triangular R (l, l): Jacobi on
   its columns, copied as rows into work (l, l). */
static void ritz_values(const double *R, int32_t l, double *work, double *sig, int32_t *order) {
    for (int32_t r = 0; r < l; r++)
        for (int32_t c = 0; c < l; c++) work[(size_t)c * l + r] = R[(size_t)r * l + c];
    jacobi_rows(work, l, (size_t)l, NULL);
    sorted_norms(work, l, (size_t)l, sig, order);
}

/* ---- the driver ------------------------------------------------------------ */

bs_status bs_topk_svd(const float *M, int32_t m, int32_t n, int32_t k, uint64_t seed, float *U,
                      float *s, float *V) {
    bs_svd_opts o = bs_svd_default_opts();
    return bs_topk_svd_opts(M, m, n, k, seed, &o, U, s, V, NULL);
}

bs_status bs_topk_svd_opts(const float *M, int32_t m, int32_t n, int32_t k, uint64_t seed,
                           const bs_svd_opts *opts, float *U, float *s, float *V,
                           bs_svd_info *info) {
    if (!M || !U || !s || !V || !opts)
        return bs_fail(BS_ERR_INVALID_ARG, "topk_svd: NULL argument");
    if (m < 1 || n < 1)
        return bs_fail(BS_ERR_INVALID_ARG, "topk_svd: empty matrix (%d x %d)", (int)m, (int)n);
    int32_t mn = BS_MIN(m, n);
    if (k < 1 || k > mn)
        return bs_fail(BS_ERR_INVALID_ARG, "topk_svd: k = %d outside [1, min(%d, %d)]", (int)k,
                       (int)m, (int)n);
    if (opts->oversample < 0 || opts->min_iter < 0 || opts->max_iter < opts->min_iter ||
        !(opts->tol >= 0))
        return bs_fail(BS_ERR_INVALID_ARG, "topk_svd: bad options (oversample %d, iter %d..%d)",
                       (int)opts->oversample, (int)opts->min_iter, (int)opts->max_iter);
    for (size_t i = 0, e = (size_t)m * n; i < e; i++)
        if (!isfinite(M[i]))
            return bs_fail(BS_ERR_FORMAT, "topk_svd: non-finite entry at (%zu, %zu)", i / (size_t)n,
                           i % (size_t)n);

    int32_t l = k + BS_MIN(opts->oversample, mn - k);
    size_t ll = (size_t)l * l;
    /* One block: Qt (l, m), Zt (l, n), R, work, Jt (l, l), sig, prev (l),
       rb (RB, TILE), Zr (n, l), Yr (m, l). */
    size_t total = 2 * ((size_t)l * m + (size_t)l * n) + 3 * ll + 2 * (size_t)l + (size_t)RB * TILE;
    double *buf = bs_malloc(total, sizeof(double));
    int32_t *order = bs_malloc((size_t)l, sizeof(int32_t));
    if (!buf || !order) {
        free(buf);
        free(order);
        return BS_ERR_NOMEM;
    }
    double *Qt = buf, *Zt = Qt + (size_t)l * m, *R = Zt + (size_t)l * n, *work = R + ll;
    double *Jt = work + ll, *sig = Jt + ll, *prev = sig + l, *rb = prev + l;
    double *Zr = rb + (size_t)RB * TILE, *Yr = Zr + (size_t)l * n;

    uint64_t rng = seed;
    gaussian_fill(Zt, (size_t)l * n, &rng);
    orthonormalise(Zt, l, (size_t)n, NULL);
    mul_mz(M, m, n, Zt, l, Qt, Zr, Yr);
    orthonormalise(Qt, l, (size_t)m, R);
    ritz_values(R, l, work, prev, order);

    int32_t it = 0;
    double moved = 0.0;
    while (it < opts->max_iter) {
        mul_mtq(M, m, n, Qt, l, Zt, rb);
        orthonormalise(Zt, l, (size_t)n, NULL);
        mul_mz(M, m, n, Zt, l, Qt, Zr, Yr);
        orthonormalise(Qt, l, (size_t)m, R);
        ritz_values(R, l, work, sig, order);
        it++;
        /* Largest relative move of the top k Ritz values this iteration;
           values at zero (rank deficiency) have nothing left to converge. */
        moved = 0.0;
        for (int32_t c = 0; c < k; c++) {
            double d = fabs(sig[c] - prev[c]);
            if (d > 0) moved = fmax(moved, sig[c] > 0 ? d / sig[c] : 1.0);
            prev[c] = sig[c];
        }
        if (it >= opts->min_iter && moved <= opts->tol) break;
    }

    /* B = Q^T M, kept as its rows in Zt; B = J diag(sigma) V^T. */
    mul_mtq(M, m, n, Qt, l, Zt, rb);
    jacobi_rows(Zt, l, (size_t)n, Jt);
    sorted_norms(Zt, l, (size_t)n, sig, order);

    /* U = Q J, one column at a time into u (m, Yr's room, free now):
       u_c = sum_d J[d][c] q_d, and J[d][c] = Jt[c][d]. */
    double *u = Yr;
    for (int32_t c = 0; c < k; c++) {
        int32_t src = order[c];
        const double *jrow = Jt + (size_t)src * l;
        memset(u, 0, (size_t)m * sizeof(double));
        for (int32_t d = 0; d < l; d++) axpy_d(jrow[d], Qt + (size_t)d * m, u, (size_t)m);
        /* Sign: the largest-magnitude component of u positive (the first on
           ties), v flipped with it so u s v^T is unchanged. */
        int32_t big = 0;
        for (int32_t i = 1; i < m; i++)
            if (fabs(u[i]) > fabs(u[big])) big = i;
        double flip = u[big] < 0 ? -1.0 : 1.0;
        for (int32_t i = 0; i < m; i++) U[(size_t)i * k + c] = (float)(flip * u[i]);
        s[c] = (float)sig[c];
        double *x = Zt + (size_t)src * n;
        if (sig[c] > 1e-12 * sig[0]) {
            double inv = flip / sig[c];
            for (int32_t j = 0; j < n; j++) V[(size_t)j * k + c] = (float)(x[j] * inv);
        } else {
            /* sigma_c is zero to working accuracy: its row of B is round-off
               and no direction. Complete V with a unit vector orthogonal to
               the v's already chosen (their rows of Zt are kept normalised). */
            for (int32_t tries = 0; tries < n; tries++) {
                memset(x, 0, (size_t)n * sizeof(double));
                x[tries] = 1.0;
                for (int pass = 0; pass < 2; pass++)
                    for (int32_t d = 0; d < c; d++) {
                        const double *vd = Zt + (size_t)order[d] * n;
                        axpy_d(-dot_d(vd, x, (size_t)n), vd, x, (size_t)n);
                    }
                if (dot_d(x, x, (size_t)n) > 0.25) break;
            }
            double inv = 1.0 / sqrt(dot_d(x, x, (size_t)n));
            for (int32_t j = 0; j < n; j++) V[(size_t)j * k + c] = (float)(x[j] * inv);
        }
        /* Keep v_c normalised in place for the completion of later ones. */
        double nv = sqrt(dot_d(x, x, (size_t)n));
        if (nv > 0)
            for (int32_t j = 0; j < n; j++) x[j] /= nv;
    }
    if (info) {
        info->iterations = it;
        info->rank = l;
        info->last_move = moved;
    }
    free(buf);
    free(order);
    return BS_OK;
}
