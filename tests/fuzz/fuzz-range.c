/* libFuzzer target for version ranges: a refused range says why; an
 * accepted one matches versions without crashing, and its floor reads back. */
#include <stdint.h>

#include "specs/specs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = xstrndup((const char *) data, size);
        struct spec_range *r = NULL;
        _cleanup_free_ char *problem = NULL;
        if (spec_range_parse(text, &r, &problem) < 0) {
                if (!problem || r)
                        abort();
                return 0;
        }
        static const char *const probes[] = { "0.0.0", "1.2.3", "1.2.3-rc.1", "2.0.0-0", "4611686018427387903.0.0" };
        for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
                struct spec_version v;
                if (spec_version_parse(probes[i], &v) < 0)
                        abort();
                (void) spec_range_matches(r, &v);
        }
        struct spec_version floor;
        spec_range_floor(r, &floor);
        /* A version parsed from text is one the parser accepts too. */
        if (spec_version_parse(text, &floor) == 0 && !spec_range_matches(r, &floor) && !floor.pre[0] &&
            !strpbrk(text, "<>=^~|*xX -,"))
                abort(); /* an exact version always matches itself */
        spec_range_free(r);
        return 0;
}
