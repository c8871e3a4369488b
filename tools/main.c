/* main.c - the bitstack command: one binary, one file per subcommand. */
#include "cli.h"

#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", cmd_run, "generate text from a prompt"},
    {"chat", cmd_chat, "interactive chat over stdin (models with a chat template)"},
    {"ppl", cmd_ppl, "perplexity of a text file"},
    {"bench", cmd_bench, "prefill/decode speed against measured memory bandwidth"},
    {"inspect", cmd_inspect, "header, metadata, sizes per level and stored perplexities of a .bstk"},
    {"curve", cmd_curve, "perplexity against size of .bstk stacks, next to RTN baselines (CSV + SVG)"},
    {"compress", cmd_compress, "compress a float model into a .bstk (every prefix is a model)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: bitstack COMMAND [options]   (bitstack COMMAND --help for details)\n\n"
               "Runs Llama-family models (llama2.c .bin, GGUF, Hugging Face directories).\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexit codes: 0 ok, 1 usage error, 2 failure\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "bitstack: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
