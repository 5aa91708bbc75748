#include "cli.h"

const char cmd_doctor_help[] =
        "Usage: berth doctor\n"
        "\n"
        "Check the host: namespaces, overlayfs, seccomp, cgroups, and which\n"
        "mechanism enforces each limit.\n";

int cmd_doctor(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
