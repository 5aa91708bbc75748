/* libFuzzer target for the spec parser. Besides crashes and sanitizer
 * reports, it checks that every error is a positioned, classified one. */
#include <stdint.h>

#include "specs/specs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Services come dependencies-first: each dependency is found earlier. */
static void check_start_order(const struct spec *s)
{
        for (size_t i = 0; i < s->n_services; i++)
                for (char **d = s->services[i].depends_on; d && *d; d++) {
                        size_t j = 0;
                        while (j < i && !streq(s->services[j].name, *d))
                                j++;
                        if (j == i)
                                abort();
                }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct spec_limits lim;
        spec_limits_default(&lim);
        struct spec *s = NULL;
        berth_error *err = NULL;
        if (spec_parse("fuzz.yaml", (const char *) data, size, "/nonexistent-berth-fuzz", &lim, &s, &err) == 0) {
                if (!s || !s->name || s->schema != 1 || !s->image || s->extends)
                        abort();
                check_start_order(s);
                spec_free(s);
                return 0;
        }
        if (!err || !startswith(err->msg, "fuzz.yaml:"))
                abort();
        if (err->kind != BERTH_E_INVALID && err->kind != BERTH_E_LIMIT && err->kind != BERTH_E_NOTFOUND)
                abort();
        berth_error_free(err);
        return 0;
}
