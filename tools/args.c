/* args.c - see args.h. */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void args_print_help(const arg_spec *spec) {
    printf("usage: %s\n\n%s\n\noptions:\n", spec->usage, spec->about);
    for (int i = 0; i < spec->n_opts; i++) {
        const arg_opt *o = &spec->opts[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        printf("  %-24s %s\n", left, o->help);
    }
    printf("  %-24s %s\n", "--help", "show this help and exit");
    printf("\nexit codes: 0 ok, 1 usage error, 2 failure\n");
    if (spec->epilog) printf("\n%s\n", spec->epilog);
}

static const arg_opt *find(const arg_spec *spec, const char *name, size_t len) {
    for (int i = 0; i < spec->n_opts; i++)
        if (strlen(spec->opts[i].name) == len && strncmp(spec->opts[i].name, name, len) == 0)
            return &spec->opts[i];
    return NULL;
}

static int bad(const arg_spec *spec, const char *msg, const char *name, const char *val) {
    fprintf(stderr, "bitstack: --%s %s: %s\n(see: %s --help)\n", name, val ? val : "", msg,
            spec->usage);
    return ARGS_ERROR;
}

static int in_range(const arg_opt *o, double v) { return o->lo == o->hi || (v >= o->lo && v <= o->hi); }

static int set_value(const arg_spec *spec, const arg_opt *o, const char *val) {
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case ARG_STR:
        *(const char **)o->dst = val;
        return ARGS_OK;
    case ARG_INT: {
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || !in_range(o, (double)v) || v < INT32_MIN || v > INT32_MAX) {
            char msg[96];
            snprintf(msg, sizeof msg, "expects an integer in [%.0f, %.0f]", o->lo, o->hi);
            return bad(spec, msg, o->name, val);
        }
        *(int32_t *)o->dst = (int32_t)v;
        return ARGS_OK;
    }
    case ARG_U64: {
        if (val[0] == '-') return bad(spec, "expects a non-negative integer", o->name, val);
        unsigned long long v = strtoull(val, &end, 10);
        if (errno || end == val || *end) return bad(spec, "expects a non-negative integer", o->name, val);
        *(uint64_t *)o->dst = (uint64_t)v;
        return ARGS_OK;
    }
    case ARG_FLOAT: {
        double v = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(v) || !in_range(o, v)) {
            char msg[96];
            snprintf(msg, sizeof msg, "expects a number in [%g, %g]", o->lo, o->hi);
            return bad(spec, msg, o->name, val);
        }
        *(float *)o->dst = (float)v;
        return ARGS_OK;
    }
    case ARG_FLAG:
        *(int *)o->dst = 1;
        return ARGS_OK;
    }
    return ARGS_ERROR;
}

int args_parse(const arg_spec *spec, int argc, char **argv, char **pos, int *n_pos) {
    *n_pos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            args_print_help(spec);
            return ARGS_HELP;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const arg_opt *o = find(spec, name, len);
            if (!o) {
                fprintf(stderr, "bitstack: unknown option %.*s\n(see: %s --help)\n", (int)(len + 2), a,
                        spec->usage);
                return ARGS_ERROR;
            }
            const char *val = NULL;
            if (o->kind == ARG_FLAG) {
                if (eq) return bad(spec, "takes no value", o->name, eq + 1);
            } else if (eq) {
                val = eq + 1;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                return bad(spec, "needs a value", o->name, NULL);
            }
            if (set_value(spec, o, val) != ARGS_OK) return ARGS_ERROR;
            continue;
        }
        if (*n_pos >= spec->pos_max) {
            fprintf(stderr, "bitstack: unexpected argument '%s'\n(see: %s --help)\n", a, spec->usage);
            return ARGS_ERROR;
        }
        pos[(*n_pos)++] = argv[i];
    }
    if (*n_pos < spec->pos_min) {
        fprintf(stderr, "bitstack: missing argument\nusage: %s\n", spec->usage);
        return ARGS_ERROR;
    }
    return ARGS_OK;
}
