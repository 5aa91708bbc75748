/* The distribution API (OCI distribution spec v1.1, Docker registry v2) for
 * manifests and configs: small documents read into memory under a bound and
 * a deadline. Layer blobs go through fetch.c, with the header this client
 * earned. Credentials come from the files podman and docker write. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sys/stat.h>

#include "oci.h"

#define AUTH_FILE_MAX (1u << 20)
#define TOKEN_MAX (1u << 20)
#define CHALLENGE_MAX 4096

static void curl_easy_cleanupp(CURL **h)
{
        if (*h)
                sym_curl_easy_cleanup(*h);
}

static void curl_slist_free_allp(struct curl_slist **l)
{
        if (*l)
                sym_curl_slist_free_all(*l);
}

void registry_reply_done(struct registry_reply *r)
{
        free(r->body);
        free(r->content_type);
        free(r->digest);
        *r = (struct registry_reply){};
}

/* ---- where the registry is ------------------------------------------------- */

static bool host_in_list(const char *host, const char *list)
{
        if (!list)
                return false;
        size_t n = strlen(host);
        for (const char *p = list; *p;) {
                size_t len = strcspn(p, ", ");
                if (len == n && strncmp(p, host, n) == 0)
                        return true;
                p += len;
                p += strspn(p, ", ");
        }
        return false;
}

/* Plain http only for the loopback and for registries the user lists. */
static bool insecure_host(const char *host, const char *listed)
{
        size_t n = strcspn(host, ":");
        if (host_in_list(host, getenv("BERTH_REGISTRY_INSECURE")) || host_in_list(host, listed))
                return true;
        if (host[0] == '[')
                return startswith(host, "[::1]");
        return (n == 9 && !strncmp(host, "localhost", 9)) || startswith(host, "127.");
}

static char *endpoint_for(const char *host, const char *listed)
{
        return xasprintf("%s://%s", insecure_host(host, listed) ? "http" : "https", host);
}

/* registries.conf, in ${XDG_CONFIG_HOME:-~/.config}/berth: one setting a
 * line, # comments.
 *   mirror REGISTRY MIRROR     ask MIRROR for REGISTRY's content first (in order)
 *   insecure HOST[:PORT]       plain http for HOST (a registry or a mirror)
 * Kept as BERTH_REGISTRY_MIRRORS and BERTH_REGISTRY_INSECURE lists are. */
struct registry_conf {
        char *path;
        char *mirrors;            /* "registry=mirror,…" */
        char *insecure;           /* "host,…" */
};

static void registry_conf_done(struct registry_conf *c)
{
        free(c->path);
        free(c->mirrors);
        free(c->insecure);
}

static void append_item(char **list, const char *item)
{
        char *l = xasprintf("%s%s%s", *list ? *list : "", *list ? "," : "", item);
        free(*list);
        *list = l;
}

static int conf_line(struct registry_conf *c, char *line, unsigned no, berth_error **err)
{
        line[strcspn(line, "#")] = '\0';
        char *save = NULL, *word = strtok_r(line, " \t", &save);
        char *a = word ? strtok_r(NULL, " \t", &save) : NULL, *b = a ? strtok_r(NULL, " \t", &save) : NULL;
        char *extra = b ? strtok_r(NULL, " \t", &save) : NULL;
        if (!word)
                return 0;
        if (streq(word, "mirror") && b && !extra) {
                _cleanup_free_ char *item = xasprintf("%s=%s", a, b);
                append_item(&c->mirrors, item);
        } else if (streq(word, "insecure") && a && !b) {
                append_item(&c->insecure, a);
        } else {
                return berth_error_make(err, BERTH_E_USAGE, 0, "%s:%u: expected \"mirror REGISTRY MIRROR\" or "
                                        "\"insecure HOST[:PORT]\"", c->path, no);
        }
        return 0;
}

static int registry_conf_load(struct registry_conf *c, berth_error **err)
{
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        *c = (struct registry_conf){};
        if (xdg && *xdg == '/')
                c->path = xasprintf("%s/berth/registries.conf", xdg);
        else if (home && *home)
                c->path = xasprintf("%s/.config/berth/registries.conf", home);
        else
                return 0;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        _cleanup_error_ berth_error *e = NULL;
        if (read_file_bounded(AT_FDCWD, c->path, AUTH_FILE_MAX, "registries.conf", &buf, &len, &e) < 0)
                return e->kind == BERTH_E_NOTFOUND ? 0 : (*err = TAKE_PTR(e), -1);
        if (memchr(buf, '\0', len))
                return berth_error_make(err, BERTH_E_USAGE, 0, "%s: not a text file", c->path);
        unsigned no = 0;
        for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                if (conf_line(c, line, ++no, err) < 0)
                        return -1;
        return 0;
}

static void add_mirrors(char ***v, size_t *n, const char *list, const struct oci_ref *ref, const char *listed)
{
        for (const char *p = list ? list : ""; *p;) {
                size_t len = strcspn(p, ", ");
                _cleanup_free_ char *item = xstrndup(p, len);
                char *eq = strchr(item, '=');
                if (eq && (size_t) (eq - item) == strlen(ref->registry) && !strncmp(item, ref->registry, strlen(ref->registry)) &&
                    eq[1]) {
                        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
                        (*v)[(*n)++] = endpoint_for(eq + 1, listed);
                        (*v)[*n] = NULL;
                }
                p += len;
                p += strspn(p, ", ");
        }
}

/* BERTH_REGISTRY_MIRRORS="docker.io=mirror.example.com,quay.io=m2:5000",
 * then registries.conf's mirrors: asked first, in order; content is checked
 * by digest anyway. */
static char **endpoints_for(const struct oci_ref *ref, const struct registry_conf *c)
{
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        add_mirrors(&v, &n, getenv("BERTH_REGISTRY_MIRRORS"), ref, c->insecure);
        add_mirrors(&v, &n, c->mirrors, ref, c->insecure);
        v = xrealloc(v, (n + 2) * sizeof(char *));
        v[n++] = endpoint_for(oci_ref_api_host(ref), c->insecure);
        v[n] = NULL;
        return v;
}

/* ---- credentials ----------------------------------------------------------- */

/* An auths key names the registry as "host", "https://host", "host/v1/" or
 * "host/namespace": returns how much of the repository it covers (0 for the
 * whole registry), or -1 when it is about another one. */
static int auth_key_match(const char *key, const struct oci_ref *ref)
{
        const char *k = startswith(key, "https://") ? key + 8 : startswith(key, "http://") ? key + 7 : key;
        const char *reg = ref->registry;
        if (streq(reg, "docker.io") && (startswith(k, "index.docker.io") || startswith(k, "registry-1.docker.io")))
                k = strchr(k, '/') ? strchr(k, '/') : k + strlen(k), reg = "";
        else if (!startswith(k, reg))
                return -1;
        else
                k += strlen(reg);
        if (!*k || streq(k, "/") || streq(k, "/v1/") || streq(k, "/v2/"))
                return 0;
        if (*k != '/')
                return -1;
        k++;
        size_t n = strlen(k);
        while (n && k[n - 1] == '/')
                n--;
        if (strncmp(ref->repository, k, n) == 0 && (ref->repository[n] == '\0' || ref->repository[n] == '/'))
                return (int) n;
        return -1;
}

static bool is_base64(const char *s)
{
        return *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == strlen(s);
}

static void auth_from_file(struct registry *r, const char *path)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        _cleanup_error_ berth_error *e = NULL;
        if (r->basic || read_file_bounded(AT_FDCWD, path, AUTH_FILE_MAX, "auth file", &buf, &len, &e) < 0)
                return;
        json_auto_t *doc = json_loadb(buf, len, 0, NULL);
        json_t *auths = json_object_get(doc, "auths"), *v;
        const char *key;
        int best = -1;
        json_object_foreach(auths, key, v) {
                const char *a = json_string_value(json_object_get(v, "auth"));
                int m = auth_key_match(key, &r->ref);
                if (m > best && a && is_base64(a)) {
                        free(r->basic);
                        r->basic = xstrdup(a);
                        best = m;
                }
        }
        if (r->basic)
                r->auth_file = xstrdup(path);
}

static void find_credentials(struct registry *r)
{
        const char *run = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
        _cleanup_free_ char *podman = run && *run ? xasprintf("%s/containers/auth.json", run) : NULL;
        _cleanup_free_ char *docker = home && *home ? xasprintf("%s/.docker/config.json", home) : NULL;
        if (podman)
                auth_from_file(r, podman);
        if (docker)
                auth_from_file(r, docker);
}

/* Which files were read, for the hint on a refused pull. */
static char *auth_hint(const struct registry *r)
{
        if (r->auth_file)
                return xasprintf("credentials from %s were refused", r->auth_file);
        const char *run = getenv("XDG_RUNTIME_DIR");
        return xasprintf("no credentials for %s in %s%s or ~/.docker/config.json", r->ref.registry,
                         run && *run ? run : "$XDG_RUNTIME_DIR", "/containers/auth.json");
}

/* The registry's credentials go to the registry only, never to a mirror. */
static const char *basic_for(const struct registry *r)
{
        return r->endpoints[r->endpoint + 1] == NULL ? r->basic : NULL;
}

static char *basic_header(const struct registry *r)
{
        return basic_for(r) ? xasprintf("Authorization: Basic %s", basic_for(r)) : NULL;
}

int registry_open(const struct oci_ref *ref, const struct images_opts *opts, struct registry *ret, berth_error **err)
{
        if (dl_curl_load(err) < 0 || dl_crypto_load(err) < 0)
                return -1;
        unsigned timeout = 30;
        const char *t = getenv("BERTH_REGISTRY_TIMEOUT");
        if (t && *t) {
                char *end;
                unsigned long v = strtoul(t, &end, 10);
                if (*end || v == 0 || v > 3600)
                        return berth_error_make(err, BERTH_E_USAGE, 0, "BERTH_REGISTRY_TIMEOUT: expected seconds "
                                                "from 1 to 3600, got \"%s\"", t);
                timeout = (unsigned) v;
        }
        struct registry_conf conf;
        if (registry_conf_load(&conf, err) < 0) {
                registry_conf_done(&conf);
                return -1;
        }
        struct registry r = { .opts = opts, .timeout_s = timeout };
        r.ref = (struct oci_ref){ xstrdup(ref->registry), xstrdup(ref->repository), ref->tag ? xstrdup(ref->tag) : NULL,
                                  ref->digest ? xstrdup(ref->digest) : NULL };
        r.ref_text = oci_ref_string(ref);
        r.endpoints = endpoints_for(ref, &conf);
        registry_conf_done(&conf);
        find_credentials(&r);
        r.authorization = basic_header(&r);
        *ret = r;
        return 0;
}

void registry_close(struct registry *r)
{
        oci_ref_done(&r->ref);
        free(r->ref_text);
        strv_free(r->endpoints);
        free(r->authorization);
        free(r->basic);
        free(r->auth_file);
        *r = (struct registry){};
}

char *registry_blob_url(const struct registry *r, const char *hex)
{
        return xasprintf("%s/v2/%s/blobs/sha256:%s", r->endpoints[r->endpoint], r->ref.repository, hex);
}

/* ---- one request ------------------------------------------------------------ */

struct req {
        bool head;                /* HEAD: headers only */
        dynbuf body;
        char *content_type, *digest, *challenge;
        char errbuf[CURL_ERROR_SIZE];
        berth_error *err;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct req *q = userdata;
        if (dynbuf_add(&q->body, ptr, size * nmemb, &q->err) < 0)
                return CURL_WRITEFUNC_ERROR;
        return size * nmemb;
}

static void set_header(char **dst, const char *v, size_t len)
{
        while (len && (*v == ' ' || *v == '\t'))
                v++, len--;
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
                len--;
        free(*dst);
        *dst = len <= CHALLENGE_MAX ? xstrndup(v, len) : NULL;
}

static size_t on_head(char *buf, size_t size, size_t nitems, void *userdata)
{
        struct req *q = userdata;
        size_t n = size * nitems;
        if (n > 5 && !strncmp(buf, "HTTP/", 5)) {
                free(q->content_type), free(q->digest), free(q->challenge);
                q->content_type = q->digest = q->challenge = NULL;
        } else if (n > 13 && !strncasecmp(buf, "Content-Type:", 13)) {
                set_header(&q->content_type, buf + 13, n - 13);
        } else if (n > 22 && !strncasecmp(buf, "Docker-Content-Digest:", 22)) {
                set_header(&q->digest, buf + 22, n - 22);
        } else if (n > 17 && !strncasecmp(buf, "WWW-Authenticate:", 17)) {
                set_header(&q->challenge, buf + 17, n - 17);
        }
        return n;
}

static void req_done(struct req *q)
{
        dynbuf_free(&q->body);
        free(q->content_type);
        free(q->digest);
        free(q->challenge);
        if (q->err)
                berth_error_free(q->err);
}

static void setup(const struct registry *r, CURL *h, const char *url, struct curl_slist *headers, struct req *q)
{
        bool https = startswith(url, "https://");
        sym_curl_easy_setopt(h, CURLOPT_URL, url);
        sym_curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        sym_curl_easy_setopt(h, CURLOPT_WRITEDATA, q);
        sym_curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_head);
        sym_curl_easy_setopt(h, CURLOPT_HEADERDATA, q);
        sym_curl_easy_setopt(h, CURLOPT_ERRORBUFFER, q->errbuf);
        sym_curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        sym_curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
        sym_curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        sym_curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long) r->opts->limits.max_redirects);
        sym_curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long) r->opts->limits.connect_timeout_s);
        sym_curl_easy_setopt(h, CURLOPT_TIMEOUT, (long) r->timeout_s);
        sym_curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) q->body.max);
        sym_curl_easy_setopt(h, CURLOPT_USERAGENT, "berth/" BERTH_VERSION_STRING);
        sym_curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        sym_curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        if (r->opts->ca_bundle)
                sym_curl_easy_setopt(h, CURLOPT_CAINFO, r->opts->ca_bundle);
}

/* A transport failure as the user should read it. */
static int transport_error(const struct registry *r, const char *url, CURLcode rc, struct req *q, berth_error **err)
{
        if (q->err) {
                *err = TAKE_PTR(q->err);
                return berth_error_wrap(err, "GET %s", url);
        }
        const char *why = q->errbuf[0] ? q->errbuf : sym_curl_easy_strerror(rc);
        switch (rc) {
        case CURLE_TOO_MANY_REDIRECTS:
                return berth_err(err, 0, "GET %s: more than %u redirects (a redirect loop?)", url,
                                 r->opts->limits.max_redirects);
        case CURLE_OPERATION_TIMEDOUT:
                return berth_err(err, ETIMEDOUT, "GET %s: no complete answer within %u s (BERTH_REGISTRY_TIMEOUT)", url,
                                 r->timeout_s);
        case CURLE_FILESIZE_EXCEEDED:
                return berth_error_make(err, BERTH_E_LIMIT, 0, "GET %s: the %s is larger than the limit of %zu bytes",
                                        url, q->body.what, q->body.max);
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
                return berth_err(err, 0, "registry %s is down or unreachable: %s", r->endpoints[r->endpoint], why);
        case CURLE_UNSUPPORTED_PROTOCOL:
                return berth_err(err, 0, "GET %s: refusing a redirect to another scheme (%s)", url, why);
        default:
                return berth_err(err, 0, "GET %s: %s", url, why);
        }
}

/* GET url; 0 with the HTTP status in *ret_status and q filled. */
static int request(const struct registry *r, const char *url, const char *accept, const char *authorization,
                   struct req *q, long *ret_status, berth_error **err)
{
        _cleanup_(curl_easy_cleanupp) CURL *h = sym_curl_easy_init();
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        if (!h)
                return berth_err(err, ENOMEM, "curl_easy_init");
        if (accept) {
                _cleanup_free_ char *a = xasprintf("Accept: %s", accept);
                headers = sym_curl_slist_append(headers, a);
        }
        if (authorization)
                headers = sym_curl_slist_append(headers, authorization);
        setup(r, h, url, headers, q);
        if (q->head)
                sym_curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        CURLcode rc = sym_curl_easy_perform(h);
        if (rc != CURLE_OK)
                return transport_error(r, url, rc, q, err);
        sym_curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, ret_status);
        return 0;
}

/* ---- tokens ----------------------------------------------------------------- */

/* The value of key in a challenge: key="value" or key=value. */
static char *challenge_param(const char *c, const char *key)
{
        size_t klen = strlen(key);
        for (const char *p = c; *p;) {
                p += strspn(p, " ,");
                const char *eq = strchr(p, '=');
                if (!eq)
                        return NULL;
                bool match = (size_t) (eq - p) == klen && !strncasecmp(p, key, klen);
                const char *v = eq + 1, *end;
                if (*v == '"') {
                        end = strchr(++v, '"');
                        if (!end)
                                return NULL;
                } else {
                        end = v + strcspn(v, ", ");
                }
                if (match)
                        return xstrndup(v, (size_t) (end - v));
                p = *end == '"' ? end + 1 : end;
        }
        return NULL;
}

static void url_escape(dynbuf *b, const char *s)
{
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c))
                        (void) dynbuf_add(b, s, 1, NULL);
                else
                        (void) dynbuf_printf(b, NULL, "%%%02X", c);
        }
}

static char *token_url(const struct registry *r, const char *challenge, berth_error **err)
{
        _cleanup_free_ char *realm = challenge_param(challenge, "realm");
        _cleanup_free_ char *service = challenge_param(challenge, "service");
        _cleanup_free_ char *scope = challenge_param(challenge, "scope");
        bool https = startswith(r->endpoints[r->endpoint], "https://");
        if (!realm || !(startswith(realm, "https://") || (!https && startswith(realm, "http://"))))
                return berth_err(err, 0, "the registry asks for a token from %s realm", realm ? "an unusable" : "no"),
                       NULL;
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, 16384, "token URL");
        (void) dynbuf_printf(&b, NULL, "%s%c", realm, strchr(realm, '?') ? '&' : '?');
        if (service) {
                (void) dynbuf_printf(&b, NULL, "service=");
                url_escape(&b, service);
                (void) dynbuf_printf(&b, NULL, "&");
        }
        _cleanup_free_ char *want = scope ? NULL : xasprintf("repository:%s:pull", r->ref.repository);
        (void) dynbuf_printf(&b, NULL, "scope=");
        url_escape(&b, scope ? scope : want);
        return dynbuf_take(&b, NULL);
}

static int parse_token(const char *body, size_t len, char **ret, berth_error **err)
{
        json_auto_t *doc = json_loadb(body, len, 0, NULL);
        const char *t = json_string_value(json_object_get(doc, "token"));
        if (!t)
                t = json_string_value(json_object_get(doc, "access_token"));
        if (!t || !*t || strlen(t) > 16384)
                return berth_err(err, 0, "the token server's answer has no token");
        for (const char *c = t; *c; c++)
                if ((unsigned char) *c <= ' ' || *c == 0x7f)
                        return berth_err(err, 0, "the token server's token holds control characters");
        *ret = xstrdup(t);
        return 0;
}

/* Answer a Bearer challenge: ask the token server (with the basic
 * credentials, if any) within the same deadline as any request. */
static int get_token(struct registry *r, const char *challenge, berth_error **err)
{
        _cleanup_free_ char *url = token_url(r, challenge, err), *token = NULL;
        if (!url)
                return -1;
        _cleanup_free_ char *basic = basic_header(r);
        struct req q = {};
        dynbuf_init(&q.body, TOKEN_MAX, "token answer");
        long status = 0;
        _cleanup_free_ char *hint = auth_hint(r);
        int rc = request(r, url, "application/json", basic, &q, &status, err);
        if (rc == 0 && (status == 401 || status == 403))
                rc = berth_error_make(err, BERTH_E_FAILED, 0, "unauthorized (%s)", hint);
        else if (rc == 0 && status != 200)
                rc = berth_err(err, 0, "token server: HTTP %ld", status);
        if (rc == 0)
                rc = parse_token(q.body.buf, q.body.len, &token, err);
        req_done(&q);
        if (rc < 0)
                return berth_error_wrap(err, "token");
        free(r->authorization);
        r->authorization = xasprintf("Authorization: Bearer %s", token);
        return 0;
}

/* ---- GET with authentication ------------------------------------------------- */

static int status_error(struct registry *r, const char *kind, const char *name, long status, berth_error **err)
{
        if (status == 401 || status == 403) {
                _cleanup_free_ char *hint = auth_hint(r);
                return berth_error_make(err, BERTH_E_FAILED, 0, "unauthorized (%s)", hint);
        }
        if (status == 404 && streq(kind, "manifests"))
                return berth_error_make(err, BERTH_E_NOTFOUND, 0, "%s %s is not in the registry", startswith(name, "sha256:") ? "digest" : "tag", name);
        if (status == 404)
                return berth_error_make(err, BERTH_E_NOTFOUND, 0, "blob %s is not in the registry", name);
        return berth_err(err, 0, "GET %s %s: HTTP %ld", kind, name, status);
}

/* One endpoint: the request, and once more after a 401 with a challenge. */
static int get_at(struct registry *r, const char *kind, const char *name, const char *accept, size_t max, bool head,
                  struct registry_reply *ret, long *ret_status, berth_error **err)
{
        _cleanup_free_ char *url = xasprintf("%s/v2/%s/%s/%s", r->endpoints[r->endpoint], r->ref.repository, kind, name);
        for (int attempt = 0;; attempt++) {
                struct req q = { .head = head };
                dynbuf_init(&q.body, max, streq(kind, "manifests") ? "manifest" : "blob");
                long status = 0;
                if (request(r, url, accept, r->authorization, &q, &status, err) < 0) {
                        req_done(&q);
                        return -1;
                }
                if (status == 401 && attempt == 0 && q.challenge && !strncasecmp(q.challenge, "Bearer ", 7)) {
                        int t = get_token(r, q.challenge + 7, err);
                        req_done(&q);
                        if (t < 0)
                                return -1;
                        continue;
                }
                *ret_status = status;
                if (status == 200) {
                        ret->body = dynbuf_take(&q.body, &ret->len);
                        ret->content_type = TAKE_PTR(q.content_type);
                        ret->digest = TAKE_PTR(q.digest);
                }
                req_done(&q);
                return 0;
        }
}

static int ask(struct registry *r, const char *kind, const char *name, const char *accept, size_t max, bool head,
               struct registry_reply *ret, berth_error **err)
{
        /* A mirror that fails or lacks the content hands over to the next. */
        for (;;) {
                bool last = r->endpoints[r->endpoint + 1] == NULL;
                _cleanup_error_ berth_error *e = NULL;
                long status = 0;
                struct registry_reply reply = {};
                int rc = get_at(r, kind, name, accept, max, head, &reply, &status, &e);
                if (rc == 0 && status == 200) {
                        *ret = reply;
                        return 0;
                }
                if (rc == 0)
                        status_error(r, kind, name, status, &e);
                if (last || e->kind == BERTH_E_LIMIT) {
                        *err = TAKE_PTR(e);
                        return -1;
                }
                log_debug("registry: %s: %s; trying the next endpoint", r->endpoints[r->endpoint], e->msg);
                r->endpoint++;
                free(r->authorization);
                r->authorization = basic_header(r);
        }
}

int registry_get(struct registry *r, const char *kind, const char *name, const char *accept, size_t max,
                 struct registry_reply *ret, berth_error **err)
{
        return ask(r, kind, name, accept, max, false, ret, err);
}

static char *accept_manifests(void)
{
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, 1024, "Accept");
        for (size_t i = 0; oci_manifest_types[i]; i++)
                (void) dynbuf_printf(&b, NULL, "%s%s", i ? ", " : "", oci_manifest_types[i]);
        return dynbuf_take(&b, NULL);
}

int registry_head_digest(struct registry *r, char ret_hex[static 65], berth_error **err)
{
        _cleanup_free_ char *accept = accept_manifests();
        struct registry_reply reply = {};
        if (ask(r, "manifests", r->ref.tag, accept, OCI_MANIFEST_MAX, true, &reply, err) < 0)
                return -1;
        const char *hex = reply.digest ? startswith(reply.digest, "sha256:") : NULL;
        int rc = hex && sha256_valid_hex(hex) ? 0 : 1;
        if (rc == 0)
                memcpy(ret_hex, hex, 65);
        registry_reply_done(&reply);
        return rc;
}

/* ---- resolving a reference ----------------------------------------------------- */

void oci_image_done(struct oci_image *im)
{
        free(im->manifest_json);
        oci_manifest_done(&im->manifest);
        free(im->config_json);
        oci_config_done(&im->config);
        *im = (struct oci_image){};
}


static bool seen_before(char seen[][65], size_t n, const char *hex)
{
        for (size_t i = 0; i < n; i++)
                if (streq(seen[i], hex))
                        return true;
        return false;
}

static const char *blob_sha256(const void *buf, size_t len, char out[static 65])
{
        sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, buf, len);
        sha256_final_hex(&c, out);
        return out;
}

/* A manifest by tag: its digest is what its bytes hash to; a registry that
 * names another one in Docker-Content-Digest is lying about one of them. */
static int check_by_tag(const struct registry_reply *m, char ret_hex[static 65], berth_error **err)
{
        blob_sha256(m->body, m->len, ret_hex);
        const char *claimed = m->digest ? startswith(m->digest, "sha256:") : NULL;
        if (claimed && !streq(claimed, ret_hex))
                return berth_error_make(err, BERTH_E_DIGEST, 0, "manifest: digest mismatch: the registry says %s, "
                                        "the bytes are sha256:%s", m->digest, ret_hex);
        return 0;
}

/* A manifest by descriptor d (checked against it, and against the documents
 * seen on the way here), or by tag. */
static int fetch_manifest(struct registry *r, const struct oci_descriptor *d, const char *tag, char seen[][65],
                          size_t n_seen, struct registry_reply *ret, char ret_hex[static 65], berth_error **err)
{
        _cleanup_free_ char *accept = accept_manifests();
        _cleanup_free_ char *name = d ? xasprintf("sha256:%s", d->hex) : xstrdup(tag);
        if (registry_get(r, "manifests", name, accept, OCI_MANIFEST_MAX, ret, err) < 0)
                return -1;
        if (d && seen && seen_before(seen, n_seen, blob_sha256(ret->body, ret->len, ret_hex))) {
                registry_reply_done(ret);
                return berth_error_make(err, BERTH_E_INVALID, 0, "index sha256:%s points at itself (its entry "
                                        "sha256:%s is served as the index again)", ret_hex, d->hex);
        }
        if (d ? oci_check_blob("manifest", d, ret->body, ret->len, err)
              : startswith(tag, "sha256:") ? (blob_sha256(ret->body, ret->len, ret_hex), 0)
                                           : check_by_tag(ret, ret_hex, err)) {
                registry_reply_done(ret);
                return -1;
        }
        if (d)
                memcpy(ret_hex, d->hex, 65);
        return 0;
}

static void registry_reply_donep(struct registry_reply *r)
{
        registry_reply_done(r);
}

/* The first document: by digest when the reference is pinned, else by tag. */
static int fetch_first(struct registry *r, struct registry_reply *m, char hex[static 65], berth_error **err)
{
        if (fetch_manifest(r, NULL, r->ref.digest ? r->ref.digest : r->ref.tag, NULL, 0, m, hex, err) < 0)
                return -1;
        memcpy(r->top_hex, hex, 65);
        if (r->ref.digest && !streq(hex, r->ref.digest + 7))
                return berth_error_make(err, BERTH_E_DIGEST, 0, "manifest: digest mismatch: expected %s, got sha256:%s",
                                        r->ref.digest, hex);
        return 0;
}

/* From the reference to the image manifest, through nested indexes, never
 * visiting a manifest twice (an index that names itself). */
static int resolve_manifest(struct registry *r, const struct oci_platform *want, struct oci_image *im,
                            berth_error **err)
{
        _cleanup_(oci_manifest_donep) struct oci_manifest index = {};
        const struct oci_descriptor *next = NULL;
        char seen[OCI_MAX_DEPTH + 1][65];
        for (size_t depth = 0; depth <= OCI_MAX_DEPTH; depth++) {
                _cleanup_(registry_reply_donep) struct registry_reply m = {};
                struct oci_manifest doc = {};
                char hex[65];
                if ((next ? fetch_manifest(r, next, NULL, seen, depth, &m, hex, err) : fetch_first(r, &m, hex, err)) < 0)
                        return -1;
                memcpy(seen[depth], hex, 65);
                if (oci_manifest_parse(m.body, m.len, next ? next->media_type : m.content_type, &doc, err) < 0)
                        return -1;
                oci_manifest_done(&index);
                index = doc;
                if (index.kind == OCI_KIND_MANIFEST) {
                        memcpy(im->manifest_hex, hex, 65);
                        im->manifest_json = TAKE_PTR(m.body);
                        im->manifest_len = m.len;
                        im->manifest = index;
                        index = (struct oci_manifest){};
                        return 0;
                }
                if (oci_index_select(&index, want, &next, err) < 0)
                        return -1;
                if (seen_before(seen, depth + 1, next->hex))
                        return berth_error_make(err, BERTH_E_INVALID, 0, "index sha256:%s points at %s", hex,
                                                streq(next->hex, hex) ? "itself" : "an index above it");
        }
        return berth_error_make(err, BERTH_E_LIMIT, 0, "indexes nested more than %d deep", OCI_MAX_DEPTH);
}

static int fetch_config(struct registry *r, struct oci_image *im, berth_error **err)
{
        const struct oci_descriptor *d = &im->manifest.config;
        _cleanup_(registry_reply_donep) struct registry_reply c = {};
        _cleanup_free_ char *name = xasprintf("sha256:%s", d->hex);
        if (d->size > OCI_CONFIG_MAX)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "config: %" PRIu64 " bytes, more than the limit of %u",
                                        d->size, OCI_CONFIG_MAX);
        if (registry_get(r, "blobs", name, NULL, (size_t) d->size, &c, err) < 0 ||
            oci_check_blob("config", d, c.body, c.len, err) < 0 ||
            oci_config_parse(c.body, c.len, &im->config, err) < 0)
                return -1;
        if (im->config.n_diff_ids != im->manifest.n_items)
                return berth_error_make(err, BERTH_E_INVALID, 0, "config: %zu diff_ids for %zu layers",
                                        im->config.n_diff_ids, im->manifest.n_items);
        im->config_json = TAKE_PTR(c.body);
        im->config_len = c.len;
        return 0;
}

int registry_resolve(struct registry *r, const struct oci_platform *want, struct oci_image *ret, berth_error **err)
{
        struct oci_image im = {};
        if (resolve_manifest(r, want, &im, err) < 0 || fetch_config(r, &im, err) < 0) {
                oci_image_done(&im);
                return berth_error_wrap(err, "%s", r->ref_text);
        }
        memcpy(im.top_hex, r->top_hex, 65);
        *ret = im;
        return 0;
}

/* ---- for doctor ----------------------------------------------------------------- */

void images_registry_settings_done(struct images_registry_settings *s)
{
        free(s->conf_path);
        free(s->mirrors);
        free(s->insecure);
        strv_free(s->auth_files);
        *s = (struct images_registry_settings){};
}

int images_registry_settings(struct images_registry_settings *ret, berth_error **err)
{
        struct registry_conf c;
        *ret = (struct images_registry_settings){};
        int rc = registry_conf_load(&c, err);
        struct stat st;
        ret->conf_path = TAKE_PTR(c.path);
        ret->conf_exists = ret->conf_path && stat(ret->conf_path, &st) == 0;
        ret->mirrors = TAKE_PTR(c.mirrors);
        ret->insecure = TAKE_PTR(c.insecure);
        registry_conf_done(&c);
        const char *run = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
        char *files[] = { run && *run ? xasprintf("%s/containers/auth.json", run) : NULL,
                          home && *home ? xasprintf("%s/.docker/config.json", home) : NULL };
        ret->auth_files = xcalloc(3, sizeof(char *));
        size_t n = 0;
        for (size_t i = 0; i < 2; i++) {
                if (files[i] && stat(files[i], &st) == 0)
                        ret->auth_files[n++] = files[i];
                else
                        free(files[i]);
        }
        return rc;
}
