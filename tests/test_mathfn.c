/* test_mathfn.c - the portable elementary functions against libm. */
#include "mathfn.h"
#include "test.h"

#include <stdint.h>
#include <string.h>

static int64_t ulp_diff(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

static void test_expf(void) {
    int64_t worst = 0;
    float worst_x = 0;
    for (float x = -103.0f; x < 88.7f; x += 0.000731f) {
        int64_t d = ulp_diff(bs_expf(x), expf(x));
        if (d > worst) worst = d, worst_x = x;
    }
    CHECK_MSG(worst <= 2, "worst %lld ulp at x=%g", (long long)worst, (double)worst_x);
    CHECK(bs_expf(0.0f) == 1.0f);
    CHECK(bs_expf(-1000.0f) == 0.0f);
    CHECK(isinf(bs_expf(1000.0f)));
    CHECK(isnan(bs_expf(NAN)));
}

static void test_double_fns(void) {
    double worst_e = 0, worst_l = 0, worst_s = 0;
    for (double x = -700; x < 700; x += 0.0137) {
        double e = fabs(bs_exp_d(x) - exp(x)) / exp(x);
        if (e > worst_e) worst_e = e;
    }
    for (double x = 1e-300; x < 1e300; x *= 1.37) {
        double l = fabs(bs_log_d(x) - log(x)) / (fabs(log(x)) + 1e-300);
        if (l > worst_l && fabs(log(x)) > 1e-3) worst_l = l;
    }
    for (double x = -20000; x < 20000; x += 0.0731) {
        double s, c;
        bs_sincos_d(x, &s, &c);
        double e = fmax(fabs(s - sin(x)), fabs(c - cos(x)));
        if (e > worst_s) worst_s = e;
    }
    CHECK_MSG(worst_e < 4e-15, "exp rel err %g", worst_e);
    CHECK_MSG(worst_l < 4e-15, "log rel err %g", worst_l);
    CHECK_MSG(worst_s < 1e-12, "sincos abs err %g", worst_s);
    CHECK(bs_log_d(1.0) == 0.0);
}

int main(void) {
    RUN(test_expf);
    RUN(test_double_fns);
    return test_summary();
}
