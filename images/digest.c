#include "private.h"

void sha256_init(sha256_ctx *c)
{
        /* The module's entry points load libcrypto and report a failure first. */
        if (dl_crypto_load(NULL) < 0)
                abort();
        c->md = sym_EVP_MD_CTX_new();
        if (!c->md || sym_EVP_DigestInit_ex(c->md, sym_EVP_sha256(), NULL) != 1)
                abort(); /* out of memory or a broken libcrypto: nothing sane to do */
}

void sha256_update(sha256_ctx *c, const void *data, size_t len)
{
        if (sym_EVP_DigestUpdate(c->md, data, len) != 1)
                abort();
}

void sha256_final_hex(sha256_ctx *c, char out[static 65])
{
        unsigned char md[32];
        unsigned int n = 0;
        if (sym_EVP_DigestFinal_ex(c->md, md, &n) != 1 || n != sizeof(md))
                abort();
        hex_encode(md, sizeof(md), out);
        sha256_done(c);
}

void sha256_done(sha256_ctx *c)
{
        sym_EVP_MD_CTX_free(c->md);
        c->md = NULL;
}

bool sha256_valid_hex(const char *s)
{
        if (!s || strlen(s) != 64)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}
