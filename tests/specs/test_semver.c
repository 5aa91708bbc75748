/* Versions and ranges: precedence, the range table, and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "specs/specs.h"

struct range_case {
        const char *range;
        const char *version;
        bool match;
};

static const struct range_case range_cases[] = {
        /* exact */
        { "1.2.3", "1.2.3", true },
        { "1.2.3", "1.2.4", false },
        { "1.2.3", "1.2.3+build.7", true },
        { "=1.2.3", "1.2.3", true },
        { "1.2.3-rc.1", "1.2.3-rc.1", true },
        { "1.2.3-rc.1", "1.2.3", false },
        /* caret */
        { "^1.2", "1.2.0", true },
        { "^1.2", "1.9.9", true },
        { "^1.2", "2.0.0", false },
        { "^1.2", "1.1.9", false },
        { "^1.2.3", "1.2.3", true },
        { "^1.2.3", "1.2.2", false },
        { "^1.2.3", "1.99.0", true },
        { "^0.2.3", "0.2.9", true },
        { "^0.2.3", "0.3.0", false },
        { "^0.0.3", "0.0.3", true },
        { "^0.0.3", "0.0.4", false },
        { "^0.0", "0.0.9", true },
        { "^0.0", "0.1.0", false },
        { "^0", "0.9.0", true },
        { "^0", "1.0.0", false },
        { "^2", "2.7.1", true },
        { "^2", "3.0.0", false },
        /* tilde */
        { "~1.2.3", "1.2.3", true },
        { "~1.2.3", "1.2.9", true },
        { "~1.2.3", "1.3.0", false },
        { "~1.2.3", "1.2.2", false },
        { "~1.2", "1.2.0", true },
        { "~1.2", "1.3.0", false },
        { "~1", "1.9.0", true },
        { "~1", "2.0.0", false },
        { "~>1.2.3", "1.2.5", true },
        /* x-ranges and partials */
        { "1.x", "1.0.0", true },
        { "1.x", "1.99.99", true },
        { "1.x", "2.0.0", false },
        { "1.2.x", "1.2.7", true },
        { "1.2.x", "1.3.0", false },
        { "1.2", "1.2.5", true },
        { "1", "1.5.0", true },
        { "1.X", "1.4.0", true },
        { "1.*", "1.4.0", true },
        { "*", "0.0.1", true },
        { "*", "99.0.0", true },
        { "x", "3.1.4", true },
        /* comparators */
        { ">=1.2 <2", "1.2.0", true },
        { ">=1.2 <2", "1.9.0", true },
        { ">=1.2 <2", "2.0.0", false },
        { ">=1.2 <2", "1.1.0", false },
        { ">=1.2, <2", "1.5.0", true },
        { ">= 1.2 < 2", "1.5.0", true },
        { ">1.2", "1.2.9", false },
        { ">1.2", "1.3.0", true },
        { ">1.2.3", "1.2.4", true },
        { ">1.2.3", "1.2.3", false },
        { "<=1.2", "1.2.9", true },
        { "<=1.2", "1.3.0", false },
        { "<1.2", "1.1.9", true },
        { "<1.2", "1.2.0", false },
        { "<=1.2.3", "1.2.3", true },
        { "<*", "1.0.0", false },
        { ">*", "1.0.0", false },
        /* hyphen and alternatives */
        { "1.2 - 1.4", "1.4.9", true },
        { "1.2 - 1.4", "1.5.0", false },
        { "1.2.3 - 2.3.4", "2.3.4", true },
        { "1.2.3 - 2.3.4", "2.3.5", false },
        { "^1.2 || ^3", "3.1.0", true },
        { "^1.2 || ^3", "2.1.0", false },
        { "1.0.0 || 2.0.0", "2.0.0", true },
        /* prereleases: only where the range names one of the same release */
        { "*", "1.0.0-rc.1", false },
        { "^1.2", "1.3.0-beta.1", false },
        { "^1.2", "2.0.0-rc.1", false },
        { "<2", "2.0.0-rc.1", false },
        { "<2", "1.9.0-rc.1", false },
        { "^1.2.3-beta.2", "1.2.3-beta.3", true },
        { "^1.2.3-beta.2", "1.2.3-beta.1", false },
        { "^1.2.3-beta.2", "1.2.3", true },
        { "^1.2.3-beta.2", "1.2.4-alpha.1", false },
        { "^1.2.3-beta.2", "1.3.0", true },
        { "~1.2.3-beta.2", "1.2.3-beta.10", true },
        { ">=1.2.3-alpha <1.3", "1.2.3-alpha.7", true },
        { ">=1.2.3-alpha <1.3", "1.2.4-alpha", false },
        { ">1.2.3-alpha.1", "1.2.3-alpha.2", true },
        { ">1.2.3-alpha.1", "1.2.3-alpha.1", false },
        { "1.2.3-alpha - 1.2.3", "1.2.3-beta", true },
        { "<1.2.3-rc.1", "1.2.3-beta.9", true },
        { "<1.2.3-rc.1", "1.2.3-rc.2", false },
        { "1.x || >=2.5.0-rc.1", "2.5.0-rc.2", true },
        { "1.x || >=2.5.0-rc.1", "2.6.0-rc.1", false },
        { "^1.0.0-0", "1.0.0-0", true },
        { "^1.0.0-0", "1.0.0-alpha", true },
};

static void range_table(void **state)
{
        assert_true(ARRAY_SIZE(range_cases) >= 60);
        size_t failed = 0;
        for (size_t i = 0; i < ARRAY_SIZE(range_cases); i++) {
                const struct range_case *c = &range_cases[i];
                struct spec_range *r = NULL;
                _cleanup_free_ char *problem = NULL;
                struct spec_version v;
                if (spec_range_parse(c->range, &r, &problem) < 0) {
                        print_error("range \"%s\" refused: %s\n", c->range, problem);
                        failed++;
                        continue;
                }
                assert_int_equal(spec_version_parse(c->version, &v), 0);
                if (spec_range_matches(r, &v) != c->match) {
                        print_error("\"%s\" %s \"%s\" (expected %s)\n", c->range,
                                    c->match ? "does not match" : "matches", c->version, c->match ? "a match" : "none");
                        failed++;
                }
                spec_range_free(r);
        }
        assert_int_equal(failed, 0);
}

static void bad_ranges(void **state)
{
        static const char *const bad[] = {
                "", " ", "^", "1.2.3.4", "01.2", "1.2-beta", ">=x.1", "1.x.3", "^x", "~*", "^1.2 |", "|| ^1", "abc",
                ">=1.2 <2 ||", "1.2.3-", "1.2.3-01", "=>1.2", "1.2 - ", "^1.2.3 extra", "-1",
                "99999999999999999999.0.0",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct spec_range *r = NULL;
                char *problem = NULL;
                if (spec_range_parse(bad[i], &r, &problem) == 0)
                        fail_msg("range \"%s\" was accepted", bad[i]);
                assert_non_null(problem);
                assert_null(r);
                free(problem);
        }
}

static void precedence(void **state)
{
        /* semver.org item 11's example, in order. */
        static const char *const order[] = {
                "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0-0", "2.0.0",
        };
        for (size_t i = 0; i + 1 < ARRAY_SIZE(order); i++) {
                struct spec_version a, b;
                assert_int_equal(spec_version_parse(order[i], &a), 0);
                assert_int_equal(spec_version_parse(order[i + 1], &b), 0);
                if (spec_version_cmp(&a, &b) >= 0 || spec_version_cmp(&b, &a) <= 0)
                        fail_msg("%s should come before %s", order[i], order[i + 1]);
        }
        struct spec_version a, b;
        assert_int_equal(spec_version_parse("1.2.3+build.1", &a), 0);
        assert_int_equal(spec_version_parse("1.2.3+build.2", &b), 0);
        assert_int_equal(spec_version_cmp(&a, &b), 0);
}

static void bad_versions(void **state)
{
        static const char *const bad[] = {
                "", "1", "1.2", "v1.2.3", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01", "1.2.3+",
                "1.2.3-a..b", "1.2.3 ", " 1.2.3", "1.2.x", "4611686018427387904.0.0",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct spec_version v;
                if (spec_version_parse(bad[i], &v) == 0)
                        fail_msg("version \"%s\" was accepted", bad[i]);
        }
        struct spec_version v;
        assert_int_equal(spec_version_parse("1.0.0-x-y.0+a-b.01", &v), 0);
        assert_string_equal(v.pre, "x-y.0");
}

static void floor_of_range(void **state)
{
        struct spec_range *r = NULL;
        char *problem = NULL;
        struct spec_version v;
        assert_int_equal(spec_range_parse("^2.1", &r, &problem), 0);
        spec_range_floor(r, &v);
        assert_true(v.major == 2 && v.minor == 1 && v.patch == 0);
        spec_range_free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(range_table), cmocka_unit_test(bad_ranges), cmocka_unit_test(precedence),
                cmocka_unit_test(bad_versions), cmocka_unit_test(floor_of_range),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
