/* mathfn.h - portable elementary functions.
 *
 * Why our own: libm differs between glibc, musl and wasi-libc, and the
 * project promises the same tokens from native and WebAssembly builds.
 * These use only IEEE +, -, *, / (no FMA: the build sets
 * -ffp-contract=off), floor and frexp/ldexp, so every platform rounds
 * identically. Accuracy: bs_expf within 2 ulp; the double versions within
 * a few ulp of double. */
#ifndef BS_MATHFN_H
#define BS_MATHFN_H

float bs_expf(float x);
double bs_exp_d(double x);
double bs_log_d(double x);          /* x > 0 */
void bs_sincos_d(double x, double *s, double *c);  /* |x| < 1e9 */
/* x / (1 + exp(-x)) */
float bs_siluf(float x);

#endif
