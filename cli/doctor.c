#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "envs/envs.h"
#include "images/images.h"
#include "sandbox/sandbox.h"

const char cmd_doctor_help[] =
        "Usage: berth doctor [--json]\n"
        "\n"
        "Check the host: namespaces, overlayfs, seccomp, cgroups, and which\n"
        "mechanism enforces each limit. Exits 1 when sandboxes cannot run here.\n";

/* Which stacking `run` uses here, and why. */
static const char *stacking(const struct sandbox_host *h, enum envs_stacking how, const char **ret_why)
{
        if (how == ENVS_STACKING_COPY) {
                *ret_why = "BERTH_ROOTFS=copy";
                return "copy";
        }
        if (h->overlay || how == ENVS_STACKING_OVERLAY) {
                *ret_why = how == ENVS_STACKING_OVERLAY ? "BERTH_ROOTFS=overlay" : "overlayfs mounts here";
                return "overlay";
        }
        *ret_why = h->overlay_detail ? h->overlay_detail : "overlayfs cannot be mounted here";
        return "copy";
}

/* Only an overlay root is kept. */
static bool kept_root(const struct sandbox_host *h, const char *stacking)
{
        return h->kept_root && streq(stacking, "overlay");
}

static json_t *host_json(const struct sandbox_host *h, enum envs_stacking how)
{
        const char *why, *st = stacking(h, how, &why);
        bool kept = kept_root(h, st);
        json_t *net = json_pack("{s:s,s:b,s:s?,s:s?}", "private", h->pasta ? "pasta" : "loopback", "pasta", h->pasta,
                                "pasta_path", h->pasta_path, "pasta_detail", h->pasta_detail);
        json_t *o = json_pack("{s:b,s:b,s:s,s:s,s:b,s:b,s:b,s:I,s:b,s:o,s:{s:s,s:s,s:s,s:s},s:s?,s:s?}", "user_namespaces",
                         h->userns, "overlay", h->overlay, "stacking", st, "stacking_reason", why, "idmapped_mounts",
                         h->idmap, "seccomp", h->seccomp, "subordinate_ids", h->subid, "ids", (json_int_t) h->ids,
                         "kept_root", kept, "network", net, "limits", "memory", sandbox_limit_mech_name(h->memory), "cpus",
                         sandbox_limit_mech_name(h->cpus), "pids", sandbox_limit_mech_name(h->pids), "nofile",
                         sandbox_limit_mech_name(h->nofile), "cgroup2_dir", h->cgroup2_dir, "detail", h->detail);
        json_object_set_new(o, "env_cgroup", json_string(sandbox_limit_mech_name(sandbox_env_cgroup_mech())));
        return o;
}

static void print_human(const struct sandbox_host *h, enum envs_stacking how)
{
        const char *why, *st = stacking(h, how, &why);
        const char *yes = "ok", *no = "missing";
        printf("user namespaces   %s\n", h->userns ? yes : no);
        printf("overlayfs         %s\n", h->overlay ? yes : no);
        printf("stacking          %s (%s)\n", st, why);
        printf("idmapped mounts   %s\n", h->idmap ? yes : no);
        printf("seccomp           %s\n", h->seccomp ? yes : no);
        printf("subordinate ids   %s\n", h->subid ? yes : "none (only root is mapped inside)");
        printf("ids inside        %llu (%s)\n", (unsigned long long) h->ids,
               geteuid() == 0 ? "berth's ranges for root, see docs/SANDBOX.md"
               : h->subid     ? "your user and its range in /etc/subuid and /etc/subgid"
                              : "your user only");
        printf("kept root         %s\n", kept_root(h, st) ? "yes (mounted until `berth down`)"
                                          : geteuid() != 0 ? "no, mounted for each run (rootless)"
                                                            : "no, mounted for each run (needs overlay and Linux 6.13+)");
        if (h->pasta)
                printf("network private   outbound and ports through pasta (%s)\n", h->pasta_path);
        else
                printf("network private   loopback only: %s\n", h->pasta_detail);
        printf("limit memory      %s\n", h->memory != SANDBOX_LIMIT_NONE ? sandbox_limit_mech_name(h->memory)
                                            : "none: not enforced (no cgroup with the memory controller for this user)");
        printf("limit cpus        %s\n", sandbox_limit_mech_name(h->cpus));
        printf("limit pids        %s\n", sandbox_limit_mech_name(h->pids));
        printf("limit nofile      %s\n", sandbox_limit_mech_name(h->nofile));
        enum sandbox_limit_mech env = sandbox_env_cgroup_mech();
        printf("env cgroup        %s\n", env != SANDBOX_LIMIT_NONE ? sandbox_limit_mech_name(env)
                                     : "none: services end by parent-death signals and pid namespaces "
                                       "(this user may create no cgroup)");
        if (h->detail)
                printf("note: %s\n", h->detail);
}

static json_t *list_json(const char *list)
{
        json_t *a = json_array();
        for (const char *p = list ? list : ""; *p;) {
                size_t len = strcspn(p, ",");
                json_array_append_new(a, json_stringn(p, len));
                p += len + (p[len] == ',');
        }
        return a;
}

static json_t *registries_json(const struct images_registry_settings *r, const berth_error *e)
{
        json_t *files = json_array();
        for (char **f = r->auth_files; f && *f; f++)
                json_array_append_new(files, json_string(*f));
        return json_pack("{s:s?,s:b,s:o,s:o,s:o,s:s?}", "conf", r->conf_path, "conf_exists", r->conf_exists, "mirrors",
                         list_json(r->mirrors), "insecure", list_json(r->insecure), "auth_files", files, "error",
                         e ? e->msg : NULL);
}

/* Where pulls from registries take their mirrors, insecure hosts and credentials. */
static void print_registries(const struct images_registry_settings *r, const berth_error *e)
{
        if (e)
                printf("registries.conf   broken: %s\n", e->msg);
        else if (r->conf_exists)
                printf("registries.conf   %s (mirrors: %s; insecure: %s)\n", r->conf_path, r->mirrors ? r->mirrors : "none",
                       r->insecure ? r->insecure : "none");
        else
                printf("registries.conf   none (%s)\n", r->conf_path ? r->conf_path : "no HOME");
        printf("registry auth     ");
        for (char **f = r->auth_files; f && *f; f++)
                printf("%s%s", f == r->auth_files ? "" : ", ", *f);
        printf("%s\n", r->auth_files && r->auth_files[0] ? "" : "none (podman login or docker login writes one)");
}

int cmd_doctor(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { CLI_COMMON_LONG, {} };
        int c;
        while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1)
                cli_common_option(ctx, c, optarg);
        if (optind < argc)
                return cli_usage_error(ctx, "unexpected argument `%s`", argv[optind]);
        struct sandbox_host h;
        enum envs_stacking how;
        _cleanup_error_ berth_error *err = NULL, *state_err = NULL;
        /* overlay is tried where the environments' writable layers live */
        _cleanup_free_ char *state = NULL;
        if (berth_state_dir(&state, &state_err) < 0)
                state = NULL;
        if (envs_stacking_from_env(&how, &err) < 0 || sandbox_host_probe(&h, state, &err) < 0)
                return cli_report(ctx, err);
        if (state_err) {
                h.overlay = false;
                free(h.overlay_detail);
                _cleanup_free_ char *why = berth_error_text(state_err);
                h.overlay_detail = xasprintf("state folder: %s", why);
        }
        _cleanup_error_ berth_error *reg_err = NULL;
        struct images_registry_settings reg;
        (void) images_registry_settings(&reg, &reg_err);
        if (ctx->json) {
                json_t *o = host_json(&h, how);
                json_object_set_new(o, "registries", registries_json(&reg, reg_err));
                cli_print_json(o);
        } else {
                print_human(&h, how);
                print_registries(&reg, reg_err);
        }
        images_registry_settings_done(&reg);
        int ok = h.userns && h.seccomp;
        sandbox_host_done(&h);
        return ok ? EXIT_OK : EXIT_FAIL;
}
