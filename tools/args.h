/* args.h - declarative command-line parsing shared by every subcommand.
 *
 * Each subcommand describes its options in a table; args_parse handles
 * "--name value", "--name=value", "--help", positionals, range checks and
 * the error messages, so all subcommands behave alike. */
#ifndef BS_ARGS_H
#define BS_ARGS_H

#include <stdint.h>

typedef enum { ARG_STR, ARG_INT, ARG_FLOAT, ARG_FLAG, ARG_U64 } arg_kind;

typedef struct arg_opt {
    const char *name;     /* without the leading "--"                    */
    arg_kind kind;
    void *dst;            /* const char **, int32_t *, float *, int *, uint64_t * */
    const char *metavar;  /* "N", "FILE"...; NULL for flags               */
    const char *help;
    double lo, hi;        /* inclusive range for numbers (lo == hi: any)  */
} arg_opt;

typedef struct arg_spec {
    const char *usage;    /* "bitstack run MODEL [options]"              */
    const char *about;    /* one paragraph                               */
    const arg_opt *opts;
    int n_opts;
    int pos_min, pos_max; /* positional argument count                    */
    const char *epilog;   /* examples, exit codes (may be NULL)           */
} arg_spec;

enum { ARGS_OK = 0, ARGS_HELP = 1, ARGS_ERROR = 2 };

/* Parses argv[1..argc) (argv[0] is the subcommand name). Positionals go to
   pos (at most pos_max). Prints help to stdout or an error to stderr. */
int args_parse(const arg_spec *spec, int argc, char **argv, char **pos, int *n_pos);
void args_print_help(const arg_spec *spec);

#endif
