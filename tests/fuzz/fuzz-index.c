/* libFuzzer target for a spec repository's index.json: refusals are
 * classified and name the index; what parses dumps and parses back the same. */
#include <stdint.h>

#include "specs/specs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const struct spec_index *a, const struct spec_index *b)
{
        if (a->n != b->n || a->sequence != b->sequence)
                abort();
        for (size_t i = 0; i < a->n; i++)
                if (!streq(a->entries[i].name, b->entries[i].name) ||
                    !streq(a->entries[i].version, b->entries[i].version) ||
                    !streq(a->entries[i].sha256, b->entries[i].sha256) || a->entries[i].yanked != b->entries[i].yanked)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct spec_index *idx = NULL;
        berth_error *err = NULL;
        if (spec_index_parse((const char *) data, size, "fuzz", &idx, &err) < 0) {
                if (!err || !startswith(err->msg, "fuzz: ") ||
                    (err->kind != BERTH_E_INVALID && err->kind != BERTH_E_LIMIT))
                        abort();
                berth_error_free(err);
                return 0;
        }
        char *text = spec_index_dump(idx);
        struct spec_index *back = NULL;
        if (spec_index_parse(text, strlen(text), "dump", &back, NULL) < 0)
                abort();
        same(idx, back);
        spec_index_free(back);
        free(text);
        const struct spec_index_entry *e;
        for (size_t i = 0; i < idx->n; i++)
                (void) spec_index_select(idx, idx->entries[i].name, "*", "fuzz", &e, NULL, NULL);
        spec_index_free(idx);
        return 0;
}
