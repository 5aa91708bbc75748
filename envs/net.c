/* The network of an environment with services: one namespace for the
 * services and the dev sandbox, given outbound access and every published
 * port (the services' and the top-level ones) by one pasta that the
 * supervisor runs; loopback only with `none`; the host's with `host`. */
#include <stdio.h>

#include "envs-private.h"

static size_t count_ports(const struct spec *s)
{
        size_t n = s->n_ports;
        for (size_t i = 0; i < s->n_services; i++)
                n += s->services[i].n_ports;
        return n;
}

/* The first service with ports, or NULL when only the top level has. */
static const struct spec_service *first_with_ports(const struct spec *s)
{
        for (size_t i = 0; i < s->n_services; i++)
                if (s->services[i].n_ports)
                        return &s->services[i];
        return NULL;
}

/* "service NAME: " for a service's ports, "" for the top level's. */
static char *owner_prefix(const struct spec_service *v)
{
        return v ? xasprintf("service %s: ", v->name) : xstrdup("");
}

int envs_network_check(const struct spec *s, berth_warnings *w, bool *ret_pasta, berth_error **err)
{
        *ret_pasta = false;
        if (!s->n_services)
                return 0;
        const struct spec_service *first = first_with_ports(s);
        _cleanup_free_ char *who = owner_prefix(first);
        size_t n = count_ports(s);
        if (s->network == SPEC_NET_HOST) {
                for (size_t i = 0; i < s->n_services; i++)
                        if (s->services[i].n_ports)
                                berth_warn(w, "ports", "service %s: not published: with network \"host\" the service "
                                           "listens on the host's ports itself", s->services[i].name);
                return 0;
        }
        if (s->network == SPEC_NET_NONE) {
                if (n)
                        return berth_error_make(err, BERTH_E_INVALID, 0, "%sports: cannot be published with network "
                                                "\"none\" (loopback only); use \"private\"", who);
                return 0;
        }
        _cleanup_free_ char *path = NULL, *reason = NULL;
        if (sandbox_net_usable(&path, &reason) <= 0) {
                if (n)
                        return berth_error_make(err, BERTH_E_FAILED, 0, "%sports: cannot be published: %s (see berth "
                                                "doctor)", who, reason);
                berth_warn(w, "network", "\"private\" has loopback only: %s (see berth doctor)", reason);
                return 0;
        }
        *ret_pasta = true;
        return 0;
}

struct port_list {
        struct sandbox_port *v;
        char **owners;
        size_t n;
};

static void port_list_done(struct port_list *l)
{
        free(l->v);
        strv_free(l->owners);
}

static void add_ports(struct port_list *l, const struct spec_port *p, size_t n, const char *service)
{
        for (size_t i = 0; i < n; i++) {
                char *owner = service ? xasprintf("service %s", service) : NULL;
                if (owner)
                        l->owners = strv_append(l->owners, owner);
                l->v[l->n++] = (struct sandbox_port) { .host_ip = p[i].host_ip, .host_port = p[i].host_port,
                                                       .port = p[i].container_port, .udp = p[i].udp,
                                                       .owner = owner };
        }
}

/* Every port the environment publishes: the top level's, then each
 * service's. l->v points into s. */
static void all_ports(const struct spec *s, struct port_list *l)
{
        *l = (struct port_list) { .v = xcalloc(count_ports(s) + 1, sizeof(*l->v)) };
        add_ports(l, s->ports, s->n_ports, NULL);
        for (size_t i = 0; i < s->n_services; i++)
                add_ports(l, s->services[i].ports, s->services[i].n_ports, s->services[i].name);
}

int envs_network_ports_free(const struct spec *s, berth_error **err)
{
        if (!s->n_services || s->network != SPEC_NET_PRIVATE)
                return 0;
        struct port_list l;
        all_ports(s, &l);
        int r = 0;
        for (size_t i = 0; i < l.n && r == 0; i++)
                r = sandbox_net_port_free(&l.v[i], err);
        port_list_done(&l);
        return r;
}

int envs_network_start(const struct spec *s, struct sandbox_shared_ns *ns, struct sandbox_net *ret,
                       berth_warnings *warnings, berth_error **err)
{
        bool pasta;
        *ret = (struct sandbox_net) { .pid = -1, .ready_fd = -1, .err_fd = -1 };
        if (envs_network_check(s, NULL, &pasta, err) < 0)
                return -1;
        if (!pasta)
                return 0;
        struct port_list l;
        all_ports(s, &l);
        struct sandbox_net_target t = { .pid = ns->holder, .netns_fd = ns->netns_fd, .userns_fd = ns->userns_fd };
        _cleanup_error_ berth_error *e = NULL;
        int r = sandbox_net_start(&t, l.v, l.n, ret, err);
        port_list_done(&l);
        if (r < 0)
                return -1;
        /* As for a dev sandbox: a pasta that could not set the network up
         * leaves loopback only, unless ports needed it. */
        if (sandbox_net_wait(ret, &e) < 0) {
                sandbox_net_stop(ret);
                if (count_ports(s))
                        return berth_error_make(err, e->kind, e->errnum, "%s", e->msg);
                berth_warn(warnings, "network", "\"private\" has loopback only: %s", e->msg);
                return 0;
        }
        ns->outbound = true;
        return 0;
}

json_t *envs_ports_json(const struct spec_port *p, size_t n)
{
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
                const char *ip = p[i].host_ip ? p[i].host_ip : SANDBOX_NET_DEFAULT_HOST_IP;
                bool v6 = strchr(ip, ':') && ip[0] != '[';
                json_array_append_new(a, json_sprintf("%s%s%s:%u->%u/%s", v6 ? "[" : "", ip, v6 ? "]" : "",
                                                      p[i].host_port, p[i].container_port,
                                                      p[i].udp ? "udp" : "tcp"));
        }
        return a;
}
