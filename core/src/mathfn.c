/* mathfn.c - see mathfn.h for why these exist. */
#include "mathfn.h"

#include <math.h>

/* 2^k as a float for -126 <= k <= 127. */
static float pow2f(int k) {
    union { unsigned u; float f; } v;
    v.u = (unsigned)(k + 127) << 23;
    return v.f;
}

float bs_expf(float x) {
    if (x != x) return x;
    if (x > 88.7228390f) return INFINITY;
    if (x < -103.972084f) return 0.0f;
    float kf = floorf(x * 1.44269504f + 0.5f);
    int k = (int)kf;
    /* ln2 split so that kf * LN2_HI is exact for |k| < 256 */
    float r = x - kf * 0.693145752f;
    r = r - kf * 1.42860677e-6f;
    /* Taylor series of exp on |r| <= 0.35, degree 8 (error < 2e-9) */
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f +
              r * (8.33333333e-3f + r * (1.38888889e-3f + r * (1.98412698e-4f +
              r * 2.48015873e-5f)))))));
    if (k > 127) return p * 2.0f * pow2f(k - 1);
    if (k < -126) return p * pow2f(k + 64) * 5.42101086e-20f; /* 2^-64 */
    return p * pow2f(k);
}

float bs_siluf(float x) { return x / (1.0f + bs_expf(-x)); }

double bs_exp_d(double x) {
    if (x != x) return x;
    if (x > 709.78) return INFINITY;
    if (x < -745.2) return 0.0;
    double kd = floor(x * 1.4426950408889634 + 0.5);
    double r = x - kd * 6.93147180369123816490e-01; /* ln2 hi (exact products) */
    r = r - kd * 1.90821492927058770002e-10;         /* ln2 lo */
    /* Taylor to degree 14 on |r| <= 0.35: error < 1e-18 */
    double p = 1.0, term = 1.0;
    for (int i = 1; i <= 14; i++) {
        term = term * r / (double)i;
        p = p + term;
    }
    return ldexp(p, (int)kd);
}

double bs_log_d(double x) {
    if (!(x > 0.0)) return x == 0.0 ? -INFINITY : NAN;
    if (isinf(x)) return x;
    int e;
    double m = frexp(x, &e); /* x = m 2^e, m in [0.5, 1) */
    if (m < 0.70710678118654752) {
        m = m * 2.0;
        e = e - 1;
    }
    /* log m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716 */
    double s = (m - 1.0) / (m + 1.0), s2 = s * s, term = s, sum = s;
    for (int i = 3; i <= 31; i += 2) {
        term = term * s2;
        sum = sum + term / (double)i;
    }
    return 2.0 * sum + (double)e * 6.93147180559945286227e-01;
}

void bs_sincos_d(double x, double *s, double *c) {
    /* x = n pi/2 + r, Cody-Waite with a three-part pi/2 */
    double n = floor(x * 0.63661977236758134308 + 0.5);
    double r = x - n * 1.57079632673412561417e+00;
    r = r - n * 6.07710050630396597660e-11;
    r = r - n * 2.02226624879595063154e-21;
    double r2 = r * r, ts = r, tc = 1.0, sn = r, cs = 1.0;
    for (int i = 1; i <= 11; i++) { /* Taylor to degree 23/22, |r| <= pi/4 */
        ts = -ts * r2 / (double)((2 * i) * (2 * i + 1));
        tc = -tc * r2 / (double)((2 * i - 1) * (2 * i));
        sn = sn + ts;
        cs = cs + tc;
    }
    long q = (long)fmod(n, 4.0);
    if (q < 0) q += 4;
    switch (q) {
    case 0: *s = sn; *c = cs; break;
    case 1: *s = cs; *c = -sn; break;
    case 2: *s = -sn; *c = -cs; break;
    default: *s = -cs; *c = sn; break;
    }
}
