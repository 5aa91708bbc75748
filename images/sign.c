/* Ed25519 keys and signatures for spec repository indexes, a buffer's
 * sha256, and a bounded GET. libcrypto and libcurl come through dlopen()
 * like the rest of the module; these symbols have their own table so that
 * a pull never resolves them. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <sys/stat.h>

#include "private.h"
#include "sign.h"

#define SIGN_SYMBOLS(X)                                                                          \
        X(EVP_PKEY_CTX_new_id) X(EVP_PKEY_CTX_free) X(EVP_PKEY_keygen_init) X(EVP_PKEY_keygen)   \
        X(EVP_PKEY_free) X(EVP_PKEY_get_base_id) X(PEM_write_PrivateKey) X(PEM_write_PUBKEY)     \
        X(PEM_read_PrivateKey) X(PEM_read_bio_PUBKEY) X(BIO_new_mem_buf) X(BIO_free)             \
        X(EVP_DigestSignInit) X(EVP_DigestSign) X(EVP_DigestVerifyInit) X(EVP_DigestVerify)

#define SIGN_DEFINE(sym) static __typeof__(sym) *s_##sym;
SIGN_SYMBOLS(SIGN_DEFINE)
#undef SIGN_DEFINE
#define SIGN_ENTRY(sym) { #sym, (void **) &s_##sym },
static const struct dl_symbol sign_symbols[] = { SIGN_SYMBOLS(SIGN_ENTRY) };
#undef SIGN_ENTRY

static pthread_once_t sign_once = PTHREAD_ONCE_INIT;
static char *sign_error;
static int sign_error_kind;

static void load_sign(void)
{
        _cleanup_error_ berth_error *e = NULL;
        if (dl_crypto_load(&e) < 0 ||
            dl_open_table(DL_CRYPTO_SONAME, DL_CRYPTO_PACKAGE, sign_symbols, ARRAY_SIZE(sign_symbols), NULL, &e) < 0) {
                sign_error = berth_error_text(e);
                sign_error_kind = e->kind;
        }
}

static int sign_load(berth_error **err)
{
        pthread_once(&sign_once, load_sign);
        if (sign_error)
                return berth_error_make(err, sign_error_kind, 0, "%s", sign_error);
        return 0;
}

DEFINE_CLEANUP_FUNC(EVP_PKEY *, s_EVP_PKEY_free)
DEFINE_CLEANUP_FUNC(EVP_PKEY_CTX *, s_EVP_PKEY_CTX_free)
DEFINE_CLEANUP_FUNC(EVP_MD_CTX *, sym_EVP_MD_CTX_free)

int images_sha256_hex(const void *data, size_t len, char ret[65], berth_error **err)
{
        if (dl_crypto_load(err) < 0)
                return -1;
        sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, data, len);
        sha256_final_hex(&c, ret);
        return 0;
}

static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, bool private, berth_error **err)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return berth_err(err, errno, "create `%s`%s", path, errno == EEXIST ? " (not overwriting a key)" : "");
        FILE *f = fdopen(fd, "w");
        if (!f) {
                close(fd);
                return berth_err(err, errno, "open `%s`", path);
        }
        int ok = private ? s_PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : s_PEM_write_PUBKEY(f, key);
        if (fflush(f) != 0 || fsync(fileno(f)) < 0)
                ok = 0;
        if (fclose(f) != 0 || ok != 1) {
                unlink(path);
                return berth_err(err, errno, "write `%s`", path);
        }
        return 0;
}

int images_key_generate(const char *key_path, berth_error **err)
{
        if (sign_load(err) < 0)
                return -1;
        _cleanup_(s_EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = s_EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
        _cleanup_(s_EVP_PKEY_freep) EVP_PKEY *key = NULL;
        if (!ctx || s_EVP_PKEY_keygen_init(ctx) != 1 || s_EVP_PKEY_keygen(ctx, &key) != 1)
                return berth_err(err, 0, "generate an Ed25519 key: libcrypto failed");
        _cleanup_free_ char *pub = xasprintf("%s.pub", key_path);
        if (access(pub, F_OK) == 0)
                return berth_err(err, EEXIST, "create `%s` (not overwriting a key)", pub);
        if (write_pem(key_path, 0600, key, true, err) < 0)
                return -1;
        if (write_pem(pub, 0644, key, false, err) < 0) {
                unlink(key_path);
                return -1;
        }
        return 0;
}

static int read_private(const char *key_path, EVP_PKEY **ret, berth_error **err)
{
        _cleanup_fclose_ FILE *f = fopen(key_path, "re");
        if (!f)
                return berth_err(err, errno, "open the key `%s`", key_path);
        EVP_PKEY *key = s_PEM_read_PrivateKey(f, NULL, NULL, NULL);
        if (!key || s_EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
                if (key)
                        s_EVP_PKEY_free(key);
                return berth_err(err, 0, "`%s` is not an Ed25519 private key in PEM (make one with berth spec keygen)",
                                 key_path);
        }
        *ret = key;
        return 0;
}

int images_sign(const char *key_path, const void *data, size_t len, char **ret_sig_hex, berth_error **err)
{
        if (sign_load(err) < 0)
                return -1;
        _cleanup_(s_EVP_PKEY_freep) EVP_PKEY *key = NULL;
        if (read_private(key_path, &key, err) < 0)
                return -1;
        _cleanup_(sym_EVP_MD_CTX_freep) EVP_MD_CTX *md = sym_EVP_MD_CTX_new();
        unsigned char sig[64];
        size_t n = sizeof(sig);
        if (!md || s_EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1 ||
            s_EVP_DigestSign(md, sig, &n, data, len) != 1 || n != sizeof(sig))
                return berth_err(err, 0, "sign with `%s`: libcrypto failed", key_path);
        char *hex = xmalloc(2 * sizeof(sig) + 1);
        hex_encode(sig, sizeof(sig), hex);
        *ret_sig_hex = hex;
        return 0;
}

static int unhex(const char *hex, unsigned char *out, size_t n)
{
        if (strlen(hex) != 2 * n || !is_hex_string(hex, 2 * n))
                return -1;
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                if (sscanf(hex + 2 * i, "%2x", &v) != 1)
                        return -1;
                out[i] = (unsigned char) v;
        }
        return 0;
}

static int read_public(const char *pem, EVP_PKEY **ret, berth_error **err)
{
        BIO *bio = s_BIO_new_mem_buf(pem, -1);
        if (!bio)
                abort();
        EVP_PKEY *key = s_PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        s_BIO_free(bio);
        if (!key || s_EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
                if (key)
                        s_EVP_PKEY_free(key);
                return berth_error_make(err, BERTH_E_INVALID, 0, "the repository key is not an Ed25519 public key "
                                                                 "in PEM");
        }
        *ret = key;
        return 0;
}

int images_verify(const char *pubkey_pem, const void *data, size_t len, const char *sig_hex, berth_error **err)
{
        if (sign_load(err) < 0)
                return -1;
        _cleanup_(s_EVP_PKEY_freep) EVP_PKEY *key = NULL;
        if (read_public(pubkey_pem, &key, err) < 0)
                return -1;
        unsigned char sig[64];
        if (unhex(sig_hex, sig, sizeof(sig)) < 0)
                return berth_error_make(err, BERTH_E_DIGEST, 0, "malformed signature (expected 128 hex digits)");
        _cleanup_(sym_EVP_MD_CTX_freep) EVP_MD_CTX *md = sym_EVP_MD_CTX_new();
        if (!md || s_EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) != 1)
                return berth_err(err, 0, "verify a signature: libcrypto failed");
        if (s_EVP_DigestVerify(md, sig, sizeof(sig), data, len) != 1)
                return berth_error_make(err, BERTH_E_DIGEST, 0,
                                        "signature does not match (tampered, or signed by another key)");
        return 0;
}

/* ---- a small GET for repository files ------------------------------------ */

static __typeof__(curl_easy_perform) *s_curl_easy_perform;
static const struct dl_symbol get_symbols[] = { { "curl_easy_perform", (void **) &s_curl_easy_perform } };
static pthread_once_t get_once = PTHREAD_ONCE_INIT;
static char *get_error;
static int get_error_kind;

static void load_get(void)
{
        _cleanup_error_ berth_error *e = NULL;
        if (dl_curl_load(&e) < 0 ||
            dl_open_table(DL_CURL_SONAME, DL_CURL_PACKAGE, get_symbols, ARRAY_SIZE(get_symbols), NULL, &e) < 0) {
                get_error = berth_error_text(e);
                get_error_kind = e->kind;
        }
}

struct get_buf {
        dynbuf b;
        bool over;
};

static size_t on_data(char *data, size_t size, size_t n, void *userdata)
{
        struct get_buf *g = userdata;
        if (dynbuf_add(&g->b, data, size * n, NULL) < 0) {
                g->over = true;
                return 0;
        }
        return size * n;
}

DEFINE_CLEANUP_FUNC(CURL *, sym_curl_easy_cleanup)

static void get_options(CURL *h, const char *url, struct get_buf *g)
{
        bool https = startswith(url, "https://");
        sym_curl_easy_setopt(h, CURLOPT_URL, url);
        sym_curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        sym_curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
        sym_curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        sym_curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
        sym_curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
        sym_curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        sym_curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
        sym_curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        sym_curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        sym_curl_easy_setopt(h, CURLOPT_WRITEDATA, g);
        const char *ca = getenv("BERTH_CA_BUNDLE");
        if (ca && *ca)
                sym_curl_easy_setopt(h, CURLOPT_CAINFO, ca);
}

int images_http_get(const char *url, size_t max, char **ret_buf, size_t *ret_len, berth_error **err)
{
        pthread_once(&get_once, load_get);
        if (get_error)
                return berth_error_make(err, get_error_kind, 0, "%s", get_error);
        _cleanup_(sym_curl_easy_cleanupp) CURL *h = sym_curl_easy_init();
        if (!h)
                return berth_err(err, 0, "%s: curl_easy_init failed", url);
        struct get_buf g = {};
        dynbuf_init(&g.b, max, "repository file");
        get_options(h, url, &g);
        CURLcode rc = s_curl_easy_perform(h);
        long status = 0;
        sym_curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (g.over) {
                dynbuf_free(&g.b);
                return berth_error_make(err, BERTH_E_LIMIT, 0, "%s: larger than the limit of %zu bytes", url, max);
        }
        if (rc != CURLE_OK || status != 200) {
                dynbuf_free(&g.b);
                if (rc == CURLE_OK && (status == 404 || status == 410))
                        return berth_error_make(err, BERTH_E_NOTFOUND, 0, "%s: HTTP %ld", url, status);
                if (rc == CURLE_OK)
                        return berth_err(err, 0, "%s: HTTP %ld", url, status);
                return berth_err(err, 0, "%s: %s", url, sym_curl_easy_strerror(rc));
        }
        *ret_buf = dynbuf_take(&g.b, ret_len);
        return 0;
}
