/* plot.c - see plot.h. */
#include "plot.h"

#include <math.h>

#define W 860
#define H 520
#define L 80   /* margins */
#define R 230
#define T 50
#define B 60

typedef struct {
    double x0, x1, ly0, ly1;
} frame;

static double px(const frame *f, double x) { return L + (x - f->x0) / (f->x1 - f->x0) * (W - L - R); }
static double py(const frame *f, double y) {
    double ly = log10(y);
    if (ly > f->ly1) ly = f->ly1;
    return H - B - (ly - f->ly0) / (f->ly1 - f->ly0) * (H - T - B);
}

static void axes(FILE *o, const frame *f, const char *xlabel, const char *ylabel) {
    fprintf(o, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#444'/>\n", L, T, W - L - R, H - T - B);
    double span = f->x1 - f->x0, step = pow(10, floor(log10(span / 4)));
    if (span / step > 10) step *= 2;
    for (double x = ceil(f->x0 / step) * step; x <= f->x1 + 1e-9; x += step)
        fprintf(o, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#ddd'/><text x='%.1f' y='%d' "
                   "font-size='12' text-anchor='middle'>%g</text>\n",
                px(f, x), T, px(f, x), H - B, px(f, x), H - B + 18, x);
    for (int e = (int)floor(f->ly0); e <= (int)ceil(f->ly1); e++)
        for (int m = 1; m < 10; m++) {
            double y = m * pow(10, e), ly = log10(y);
            if (ly < f->ly0 - 1e-9 || ly > f->ly1 + 1e-9) continue;
            int major = m == 1 || m == 2 || m == 5;
            fprintf(o, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='%s'/>\n", L, py(f, y), W - R, py(f, y),
                    major ? "#ddd" : "#f2f2f2");
            if (major) fprintf(o, "<text x='%d' y='%.1f' font-size='12' text-anchor='end'>%g</text>\n", L - 6, py(f, y) + 4, y);
        }
    fprintf(o, "<text x='%d' y='%d' font-size='13' text-anchor='middle'>%s</text>\n", (L + W - R) / 2, H - 15, xlabel);
    fprintf(o, "<text x='18' y='%d' font-size='13' text-anchor='middle' transform='rotate(-90 18 %d)'>%s</text>\n",
            (T + H - B) / 2, (T + H - B) / 2, ylabel);
}

void plot_svg(FILE *o, const char *title, const char *xlabel, const char *ylabel, const plot_series *s, int n_series,
              double hline, const char *hline_label, double y_max, double x_max) {
    frame f = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (int i = 0; i < n_series; i++)
        for (int k = 0; k < s[i].n; k++) {
            if (s[i].x[k] > x_max) continue;
            f.x0 = fmin(f.x0, s[i].x[k]);
            f.x1 = fmax(f.x1, s[i].x[k]);
            f.ly0 = fmin(f.ly0, log10(s[i].y[k]));
            f.ly1 = fmax(f.ly1, log10(fmin(s[i].y[k], y_max)));
        }
    if (hline > 0) f.ly0 = fmin(f.ly0, log10(hline));
    if (!(f.x1 > f.x0)) f.x1 = f.x0 + 1;
    if (!(f.ly1 > f.ly0)) f.ly1 = f.ly0 + 1;
    double pad = 0.04 * (f.ly1 - f.ly0);
    f.ly0 -= pad, f.ly1 += pad;
    fprintf(o, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif'>\n"
               "<rect width='100%%' height='100%%' fill='white'/>\n"
               "<text x='%d' y='28' font-size='15' font-weight='bold'>%s</text>\n", W, H, L, title);
    axes(o, &f, xlabel, ylabel);
    if (hline > 0)
        fprintf(o, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#888' stroke-dasharray='6 4'/>\n", L, py(&f, hline),
                W - R, py(&f, hline));
    for (int i = 0; i < n_series; i++) {
        if (s[i].lines && s[i].n > 1) {
            fprintf(o, "<polyline fill='none' stroke='%s' stroke-width='2' points='", s[i].color);
            for (int k = 0; k < s[i].n; k++)
                if (s[i].x[k] <= x_max) fprintf(o, "%.1f,%.1f ", px(&f, s[i].x[k]), py(&f, s[i].y[k]));
            fprintf(o, "'/>\n");
        }
        for (int k = 0; k < s[i].n; k++)
            if (s[i].x[k] <= x_max)
                fprintf(o, "<circle cx='%.1f' cy='%.1f' r='%d' fill='%s'/>\n", px(&f, s[i].x[k]), py(&f, s[i].y[k]),
                        s[i].lines ? 3 : 5, s[i].color);
        int ly = T + 18 + 20 * i;
        fprintf(o, "<circle cx='%d' cy='%d' r='5' fill='%s'/><text x='%d' y='%d' font-size='12'>%s</text>\n", W - R + 16,
                ly - 4, s[i].color, W - R + 28, ly, s[i].name);
    }
    if (hline > 0)
        fprintf(o, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#888' stroke-dasharray='6 4'/>"
                   "<text x='%d' y='%d' font-size='12'>%s</text>\n",
                W - R + 8, T + 14 + 20 * n_series, W - R + 24, T + 14 + 20 * n_series, W - R + 28, T + 18 + 20 * n_series,
                hline_label);
    fprintf(o, "</svg>\n");
}
