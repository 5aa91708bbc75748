/* images: libcurl, libarchive and libcrypto through dlopen(); see dl.h for why. */
#include <dlfcn.h>
#include <pthread.h>

#include "dl.h"

#define DL_DEFINE(sym) __typeof__(sym) *sym_##sym;
DL_CURL_SYMBOLS(DL_DEFINE)
DL_ARCHIVE_SYMBOLS(DL_DEFINE)
DL_CRYPTO_SYMBOLS(DL_DEFINE)
#undef DL_DEFINE

#define DL_ENTRY(sym) { #sym, (void **) &sym_##sym },
static const struct dl_symbol curl_symbols[] = { DL_CURL_SYMBOLS(DL_ENTRY) };
static const struct dl_symbol archive_symbols[] = { DL_ARCHIVE_SYMBOLS(DL_ENTRY) };
static const struct dl_symbol crypto_symbols[] = { DL_CRYPTO_SYMBOLS(DL_ENTRY) };
#undef DL_ENTRY

int dl_open_table(const char *soname, const char *package, const struct dl_symbol *syms, size_t n, void **ret_handle,
                  berth_error **err)
{
        void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (!h)
                return berth_err(err, 0, "%s (install the Debian package %s): %s", soname, package, dlerror());
        _cleanup_free_ void **found = xcalloc(n ? n : 1, sizeof(*found));
        for (size_t i = 0; i < n; i++) {
                dlerror();
                found[i] = dlsym(h, syms[i].name);
                if (!found[i]) {
                        const char *why = dlerror();
                        berth_err(err, 0, "%s has no symbol %s (install a current %s): %s", soname, syms[i].name,
                                  package, why ? why : "NULL");
                        dlclose(h);
                        return -1;
                }
        }
        for (size_t i = 0; i < n; i++)
                *syms[i].ptr = found[i];
        if (ret_handle)
                *ret_handle = h;
        return 0;
}

/* pthread_once cannot return an error: keep the first outcome's text. */
struct dl_lib {
        pthread_once_t once;
        const char *soname, *package;
        const struct dl_symbol *syms;
        size_t n;
        void (*after)(void);
        char *error;            /* NULL once loaded */
        int error_kind;
};

static void curl_after(void)
{
        /* Not thread-safe by itself: pthread_once makes it run exactly once. */
        sym_curl_global_init(CURL_GLOBAL_DEFAULT);
}

static struct dl_lib curl_lib = {
        PTHREAD_ONCE_INIT, DL_CURL_SONAME, DL_CURL_PACKAGE, curl_symbols, ARRAY_SIZE(curl_symbols), curl_after, NULL,
};
static struct dl_lib archive_lib = {
        PTHREAD_ONCE_INIT, DL_ARCHIVE_SONAME, DL_ARCHIVE_PACKAGE, archive_symbols, ARRAY_SIZE(archive_symbols), NULL,
        NULL,
};

static struct dl_lib crypto_lib = {
        PTHREAD_ONCE_INIT, DL_CRYPTO_SONAME, DL_CRYPTO_PACKAGE, crypto_symbols, ARRAY_SIZE(crypto_symbols), NULL, NULL,
};

static void load(struct dl_lib *l)
{
        _cleanup_error_ berth_error *e = NULL;
        if (dl_open_table(l->soname, l->package, l->syms, l->n, NULL, &e) < 0) {
                l->error = berth_error_text(e);
                l->error_kind = e->kind;
                return;
        }
        log_debug("loaded %s", l->soname);
        if (l->after)
                l->after();
}

static void load_curl(void) { load(&curl_lib); }
static void load_archive(void) { load(&archive_lib); }
static void load_crypto(void) { load(&crypto_lib); }

static int loaded(struct dl_lib *l, berth_error **err)
{
        if (l->error)
                return berth_error_make(err, l->error_kind, 0, "%s", l->error);
        return 0;
}

int dl_curl_load(berth_error **err)
{
        pthread_once(&curl_lib.once, load_curl);
        return loaded(&curl_lib, err);
}

int dl_archive_load(berth_error **err)
{
        pthread_once(&archive_lib.once, load_archive);
        return loaded(&archive_lib, err);
}

int dl_crypto_load(berth_error **err)
{
        pthread_once(&crypto_lib.once, load_crypto);
        return loaded(&crypto_lib, err);
}
