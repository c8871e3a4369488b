/* plot.h - a small SVG line/marker plot for perplexity-vs-size curves. */
#ifndef BS_PLOT_H
#define BS_PLOT_H

#include <stdio.h>

typedef struct plot_series {
    const char *name;
    const char *color;     /* CSS color                                    */
    int lines;             /* 1: connect the points; 0: markers only       */
    int n;
    const double *x, *y;   /* n points                                     */
} plot_series;

/* Writes an SVG with a linear x axis and a logarithmic y axis; y values
   above y_max are clipped to the frame, points with x above x_max left
   out. hline (> 0) draws a dashed reference line (the float model). */
void plot_svg(FILE *f, const char *title, const char *xlabel, const char *ylabel, const plot_series *s, int n_series,
              double hline, const char *hline_label, double y_max, double x_max);

#endif
